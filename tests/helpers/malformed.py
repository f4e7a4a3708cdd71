"""A generated corpus of bad input: every way a folder a user drops in can be wrong.

`write_corpus(folder)` writes the files and returns what each one should become: "skipped"
(with a word its reason must contain) or "added" (odd but readable). Nothing here is read from
disk outside `folder`; the PDFs are written by hand or by pypdf.
"""

from __future__ import annotations

import io
import os
import random
import zlib
from pathlib import Path

NEWS = (
    "Harbour council approves new ferry terminal\n2024-03-05 Source: Port Weekly\n\n"
    "The harbour council approved a new ferry terminal on Tuesday after a two-year review.\n\n"
    "The terminal will cost 42 million euros and open in 2027, the council said.\n"
)
ENCODED = {  # encoding: text that survives the round trip
    "cp1252": "Café owners in Zürich said the “new rules” cost them €2,400 a month.",
    "latin-1": "Les élèves de l'école ont gagné le prix régional à Besançon.",
    "utf-16": "The Zanzibar ferry carried 900 people on 3 May, officials said.",
    "gb18030": "浙江省向青海省提供了援助资金，用于建设学校和医院。",
    "shift_jis": "東京の新しい橋は来年の春に開通する予定です。",
    "koi8-r": "Новый мост через реку откроют весной следующего года.",
    "big5": "台北市政府宣布明年將興建新的圖書館。",
    "euc-kr": "서울시는 내년에 새로운 도서관을 지을 계획이라고 발표했다.",
    "cp1251": "Городской совет утвердил бюджет на следующий год.",
}


def tiny_pdf(page_texts: list[str], stream: bytes | None = None) -> bytes:
    """A valid PDF, written by hand: one Helvetica text line per page (or a raw content stream)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", None, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in page_texts:
        content = stream or f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        extra = b" /Filter /FlateDecode" if stream else b""
        objects.append(b"<< /Length %d%s >>\nstream\n" % (len(content), extra) + content + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % content_id
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _bomb(gigabytes: float = 1.0) -> bytes:
    """A content stream of `gigabytes` of zeros that compresses to about a megabyte."""
    z = zlib.compressobj(9)
    block = b"\0" * (8 << 20)
    parts = [z.compress(block) for _ in range(int(gigabytes * 1024 / 8))]
    return b"".join(parts) + z.flush()


def _encrypted(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(tiny_pdf(["Secret quarterly report figures"]))))
    writer.encrypt(user_password=user_password, owner_password="owner-pass", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def write_corpus(folder: Path) -> dict[str, tuple[str, str]]:
    """Write the bad files into `folder`; returns {relative name: (expected status, reason word)}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    expect: dict[str, tuple[str, str]] = {}

    def put(name: str, data: bytes | str, status: str = "skipped", why: str = "") -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        expect[name] = (status, why)

    for i in range(12):  # binary under a text name
        head = [b"\x89PNG\r\n\x1a\n", b"\x7fELF\x02\x01", b"PK\x03\x04", b"\0\0\0\0"][i % 4]
        put(f"binary/{i:02d}.txt", head + bytes(rng.getrandbits(8) for _ in range(3000)) + b"\0", why="binary")
    for i in range(4):
        put(f"binary/{i:02d}.md", bytes(rng.getrandbits(8) for _ in range(2000)) + b"\0" * 8, why="binary")
    for suffix in (".txt", ".md", ".html", ".htm", ".pdf", ".markdown"):  # empty
        put(f"empty/empty{suffix}", b"", why="empty")
    for i, blank in enumerate([" ", "\n\n\n", "\t \t\n", "\u00a0\u2003\n", "\r\n\r\n", " " * 10000, "\u200b\n"] * 2):
        put(f"blank/{i:02d}.txt", blank, why="text")  # "no text could be extracted" / "no article text"
    for i in range(4):
        put(f"blank/{i:02d}.html", "<html><body>" + " " * i + "<div>\n</div></body></html>", why="text")
    for i, (encoding, text) in enumerate(ENCODED.items()):  # other encodings: decoded, indexed
        put(f"encodings/{encoding}.txt", f"Report {i}\n\n{text}\n".encode(encoding), "added")
        put(f"encodings/{encoding}-news.txt", (f"News item {i}\n\n" + (text + " ") * 3 + "\n").encode(encoding), "added")
    put("encodings/invalid-utf8.txt", b"Title\n\nBroken \xff\xfe\xfd bytes \xc3\x28 here " * 3, "added")
    put("big/over-size.txt", b"", why="limit")  # replaced by a sparse 51 MiB file below
    with open(folder / "big/over-size.txt", "wb") as f:
        f.truncate(51 * 1024 * 1024)
    put("big/too-many-chars.txt", "Long report\n\n" + ("The committee met again and discussed the budget. " * 70000), why="limit")
    put("big/no-spaces.txt", "Hash dump\n\n" + "a" * 1_000_000, why="limit")  # 12,500 tiny chunks
    pdf = tiny_pdf(["Harbour council approves new ferry terminal", "The terminal will cost 42 million euros."])
    put("pdf/good.pdf", pdf, "added")
    for i, cut in enumerate((0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.97)):
        put(f"pdf/truncated-{i}.pdf", pdf[: int(len(pdf) * cut)], why="corrupt")
    put("pdf/not-a-pdf.pdf", NEWS, why="corrupt")
    put("pdf/html-named-pdf.pdf", "<html><body><p>hello</p></body></html>", why="corrupt")
    put("pdf/garbage-xref.pdf", pdf.replace(b"xref", b"xrex"), why="corrupt")
    put("pdf/encrypted.pdf", _encrypted("secret"), why="encrypted")
    put("pdf/encrypted-empty-user.pdf", _encrypted(""), why="encrypted")
    put("pdf/bomb.pdf", tiny_pdf(["x"], stream=_bomb()), why="limit")
    put("pdf/cyclic-pages.pdf", pdf.replace(b"/Kids [", b"/Kids [2 0 R "), why="cyclic")
    put("pdf/blank-pages.pdf", tiny_pdf([""] * 3), why="text")
    put("html/nested-divs.html", "<html><body>" + "<div>" * 100_000 + "<p>Deep text</p>" + "</div>" * 100_000, why="text")
    put("html/unclosed-li.html", "<html><body><h1>List</h1>" + "<li>item " * 8_000 + "</body></html>", "added")
    put("html/nested-tables.html", "<table><tr><td>" * 5000 + "cell" + "</td></tr></table>" * 5000, why="text")
    put("html/script-only.html", "<html><script>" + "var x = 1;" * 1000 + "</script></html>", why="text")
    put("html/binary.html", b"<html>\0\0\0" + bytes(range(256)) * 10, why="binary")
    put("html/comments.html", "<html><body><!--" + "x" * 100_000 + "--></body></html>", why="text")
    put("dup/repeated-paragraphs.txt", "Repeated notice\n\n" + "The road is closed for repairs until Friday.\n\n" * 200, "added")
    put("dup/copy-a.txt", NEWS, "added")
    put("dup/copy-b.txt", NEWS, "added")
    put("misc/title-only.txt", "Just a headline\n", why="text")
    put("misc/furniture-only.txt", "Title\n\nTel: 0571-123456\nEditor in charge: Li\n", why="text")
    put("misc/control-\x1b[31m-name.txt", "Odd name\n\nThe file name has an escape sequence in it.\n", "added")
    put("misc/crlf.txt", NEWS.replace("\n", "\r\n"), "added")
    put("misc/cr-only.txt", NEWS.replace("\n", "\r"), "added")
    put("misc/bom.txt", "\ufeff" + NEWS, "added")
    put("misc/nul-late.txt", NEWS + "x" * 5000 + "\0", "added")  # a stray NUL after the first 4 KiB
    put("misc/very-long-title.txt", "T" * 5000 + "\n\n" + NEWS, "added")
    put("misc/unsupported.docx", b"PK\x03\x04", why="unsupported")
    put("misc/noext", NEWS, why="unsupported")
    put(".hidden/secret.txt", NEWS, why="")  # hidden folders are not indexed at all
    put(".hidden.txt", NEWS, why="")
    put("misc/meta-broken.txt", NEWS, why="json")
    (folder / "misc/meta-broken.meta.json").write_text("{not json")
    put("misc/meta-wrong-type.txt", NEWS, "added")
    (folder / "misc/meta-wrong-type.meta.json").write_text('["a list"]')
    loop = folder / "links" / "loop"
    loop.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(loop.parent, loop)  # a folder that contains itself
    os.symlink(folder / "links" / "self.txt", folder / "links" / "self.txt")  # a file link to itself
    os.symlink(folder / "nowhere.txt", folder / "links" / "dangling.txt")
    for name in ("links/self.txt", "links/dangling.txt"):
        expect[name] = ("skipped", "symbolic link")
    for name in (".hidden/secret.txt", ".hidden.txt"):
        expect[name] = ("ignored", "")
    return expect
