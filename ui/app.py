"""The Gradio chat page: a client of the engine's public streaming API, nothing more.

Handlers are plain functions of an `Engine` (see `Handlers`), so tests call them directly; the
Blocks layout only wires them to components.
"""

from __future__ import annotations

import shutil
import sys
from functools import lru_cache
from pathlib import Path

from ingest.index import delete_article, ingest_into
from rag.engine import Engine, get_engine
from rag.settings import BACKENDS, Settings
from rag.types import Answer
from ui.guard import HostOriginGuard, allowed_hosts, is_loopback, parse_auth
from ui.render import answer_html, draft_html, error_html, safe_text, sources_html

EXAMPLES = [
    "How much aid money has Zhejiang given Qinghai since 2010?",
    "Who led the Zhejiang delegation to Naqu?",
    "Which areas of cooperation did Wang Guosheng propose?",
    "What did the delegation visit during the investigation in Naqu?",
]
UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".pdf")
QUEUE_SIZE = 32


class Handlers:
    """What the page does, as functions a test can call without a browser."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def respond(self, message: str, chat: list[dict], pairs: list, k: int, backend: str, temperature: float):
        """Stream one answer. Yields (chat, sources_html, pairs, textbox) after each piece."""
        chat = [*chat, {"role": "user", "content": safe_text(message)}, {"role": "assistant", "content": "…"}]
        try:
            stream = self.engine.stream(
                message, pairs, k=int(k), backend=backend, temperature=float(temperature)
            )
            text = ""
            for item in stream:
                if isinstance(item, Answer):
                    chat[-1] = {"role": "assistant", "content": answer_html(item)}
                    sources = sources_html(item, _article_text)
                    yield list(chat), sources, [*pairs, (message, item.text)], ""
                    return
                text += item
                chat[-1] = {"role": "assistant", "content": draft_html(text)}
                yield list(chat), "", pairs, ""
        except (ValueError, RuntimeError) as exc:  # bad input, model missing, server down
            chat[-1] = {"role": "assistant", "content": error_html(str(exc))}
            yield list(chat), "", pairs, message

    def articles_table(self) -> list[list]:
        return [
            [m.get("title", ""), m.get("date", ""), m.get("n_chunks", 0), Path(m.get("source", "")).name]
            for m in self.engine.store.articles()
        ]

    def article_choices(self) -> list[tuple[str, str]]:
        return [(f"{m.get('title', '')} ({Path(m.get('source', '')).name})", m["doc_id"]) for m in self.engine.store.articles()]

    def upload(self, files: list | None, progress=None) -> str:
        """Check each upload, copy it into data/uploads (so it survives a re-ingest), index it.

        A file is refused before it is copied when it is too large, hidden or of another type;
        a different file with the name of an earlier upload is saved beside it, never over it."""
        if not files:
            return "Choose one or more .txt, .md, .html or .pdf files first."
        target = self.uploads
        target.mkdir(parents=True, exist_ok=True)
        limit = self.engine.settings.max_upload_mb
        paths, refused = [], []
        for f in files:
            src = Path(getattr(f, "name", f))
            name = Path(getattr(f, "orig_name", None) or src.name).name
            reason = _upload_problem(src, name, limit)
            if reason:
                refused.append(f"| {safe_text(name)} | refused: {safe_text(reason)} | 0 |")
                continue
            paths.append(_place(src, target / name))
        done: list = []

        def on_file(result):
            done.append(result)
            if progress is not None:
                progress(len(done) / len(paths), desc=f"Indexed {Path(result.path).name}")

        try:
            report = ingest_into(self.engine, paths, progress=False, on_file=on_file) if paths else None
        except RuntimeError as exc:  # the store is busy or unreachable: the files wait in data/uploads
            return f"Not indexed yet: {safe_text(str(exc))} The files are saved and go in at the next ingest."
        rows = [
            f"| {safe_text(Path(r.path).name)} | {r.status}{': ' + safe_text(r.reason) if r.reason else ''} | {r.chunks} |"
            for r in (report.results if report else [])
        ]
        summary = report.summary() if report else "Nothing indexed."
        return "| file | result | chunks |\n|---|---|---|\n" + "\n".join(refused + rows) + f"\n\n{summary}"

    @property
    def uploads(self) -> Path:
        return Path(self.engine.settings.data_dir) / "uploads"

    def delete(self, doc_id: str | None) -> str:
        """Remove an article from the index; an uploaded article's file goes too, so it stays gone."""
        if not doc_id:
            return "Pick an article to delete."
        known = {m["doc_id"]: m for m in self.engine.store.articles()}
        if doc_id not in known:
            return "That article is no longer in the index."
        source = Path(known[doc_id].get("source", ""))
        title, name = safe_text(known[doc_id].get("title", "")), safe_text(source.name)
        uploaded = source.parent.resolve() == self.uploads.resolve()
        try:
            delete_article(self.engine, doc_id, file=source if uploaded else None)
        except RuntimeError as exc:  # the store is busy or unreachable: nothing was touched
            return f"Nothing deleted: {safe_text(str(exc))}"
        if uploaded:
            return f"Deleted **{title}**: its uploaded file {name} and its passages are gone."
        return (
            f"Removed **{title}** from the index. The file {name} is not an upload, so it stays on disk: "
            "remove it from the data folder too, or the next ingest adds it again."
        )


def _upload_problem(src: Path, name: str, limit_mb: int) -> str | None:
    """Why an upload is refused before it is copied, or None."""
    if name.startswith(".") or not name.strip():
        return "hidden or unnamed files are not indexed"
    if Path(name).suffix.lower() not in UPLOAD_TYPES:
        return f"not one of {', '.join(UPLOAD_TYPES)}"
    try:
        size = src.stat().st_size
    except OSError as exc:
        return f"cannot read the upload ({exc.strerror})"
    if size > limit_mb * 1024 * 1024:
        return f"{size / 1024 / 1024:.0f} MB is over the {limit_mb} MB limit (RAG_MAX_UPLOAD_MB)"
    return None


def _place(src: Path, dest: Path) -> Path:
    """Copy src to dest, or beside it as "name (2).ext" when dest holds a different file."""
    n = 1
    while dest.exists():
        if dest.read_bytes() == src.read_bytes():
            return dest
        n += 1
        dest = dest.with_name(f"{dest.stem.rsplit(' (', 1)[0]} ({n}){dest.suffix}")
    shutil.copyfile(src, dest)
    return dest


def build(engine: Engine):
    import gradio as gr

    h = Handlers(engine)
    with gr.Blocks(title="News Q&A") as demo:
        gr.Markdown("## Ask the news articles\nEvery claim cites its source; click a marker like [1] to see the evidence.")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    # Bubbles hold only markup built by ui.render around inert text; Markdown
                    # and LaTeX stay off and Gradio's sanitiser stays on, in case that ever slips.
                    chatbot = gr.Chatbot(
                        label="Answers", height=480, elem_id="chat", sanitize_html=True,
                        render_markdown=False, latex_delimiters=[], allow_tags=False,
                    )
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False, scale=5, elem_id="question")
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    clear = gr.Button("New conversation", size="sm")
                    with gr.Accordion("Settings", open=False):
                        k = gr.Slider(1, 8, value=engine.settings.k, step=1, label="Passages")
                        backend = gr.Dropdown(list(BACKENDS), value=engine.settings.backend, label="Backend")
                        temperature = gr.Slider(0.0, 1.0, value=engine.settings.temperature, step=0.05, label="Temperature")
                    gr.Examples(EXAMPLES, inputs=box)
                with gr.Column(scale=2):
                    sources = gr.HTML('<div class="sources empty">Sources appear here.</div>', elem_id="sources")
            pairs = gr.State([])
            inputs = [box, chatbot, pairs, k, backend, temperature]
            outputs = [chatbot, sources, pairs, box]
            # One public API endpoint, "ask"; everything else serves the page only.
            send.click(h.respond, inputs, outputs, concurrency_limit=1, concurrency_id="generate", api_name="ask")
            box.submit(h.respond, inputs, outputs, concurrency_limit=1, concurrency_id="generate", api_visibility="private")
            clear.click(lambda: ([], "", []), None, [chatbot, sources, pairs], api_visibility="private")
        with gr.Tab("Articles") as tab:
            table = gr.Dataframe(headers=["title", "date", "chunks", "file"], interactive=False)
            files = gr.File(file_count="multiple", file_types=[".txt", ".md", ".html", ".htm", ".pdf"], label="Add articles")
            add = gr.Button("Index uploaded files")
            result = gr.Markdown()
            with gr.Row():
                pick = gr.Dropdown(choices=h.article_choices(), label="Article", scale=4)
                remove = gr.Button("Delete from index", variant="stop", scale=1)

            def upload(files, progress=gr.Progress()):  # noqa: B008 - Gradio injects progress this way
                return h.upload(files, progress)

            def refresh():
                return h.articles_table(), gr.update(choices=h.article_choices(), value=None)

            private = {"api_visibility": "private"}
            add.click(upload, files, result, **private).then(refresh, None, [table, pick], **private)
            remove.click(h.delete, pick, result, **private).then(refresh, None, [table, pick], **private)
            tab.select(refresh, None, [table, pick], **private)
            demo.load(refresh, None, [table, pick], **private)
    return demo


def app(settings: Settings, engine: Engine):
    """The page as an ASGI app: Gradio mounted behind the Host/Origin guard (ui.guard).

    Served by uvicorn directly rather than `Blocks.launch`, so no share tunnel can open
    (GRADIO_SHARE is never read) and the guard sees every request first."""
    import gradio as gr
    from fastapi import FastAPI

    auth = parse_auth(settings.ui_auth, required=not is_loopback(settings.ui_host))
    demo = build(engine)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    hosts = allowed_hosts(settings.ui_host, settings.ui_allowed_hosts.split(","))
    root = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    root = gr.mount_gradio_app(
        root, demo, path="/", auth=auth, footer_links=[], show_error=False, run_history=False,
        max_file_size=f"{settings.max_upload_mb}mb", css=CSS, head=HEAD, mcp_server=False,
        server_name=settings.ui_host, server_port=settings.ui_port,
    )
    _limit_per_client(demo, settings.ui_queue_per_client)
    root.add_middleware(HostOriginGuard, hosts=hosts)
    return root


def launch(settings: Settings, ingest: bool = True) -> int:
    import uvicorn

    parse_auth(settings.ui_auth, required=not is_loopback(settings.ui_host))  # fail before the ingest
    engine = get_engine(settings)
    if ingest:
        print(ingest_into(engine, progress=True).summary(), file=sys.stderr)
    engine.warm()  # the model loads while the page starts, not on the first question
    asgi = app(settings, engine)
    shown = f"[{settings.ui_host}]" if ":" in settings.ui_host else settings.ui_host
    print(f"Chat page: http://{shown}:{settings.ui_port}", file=sys.stderr)
    uvicorn.run(asgi, host=settings.ui_host.strip("[]"), port=settings.ui_port, log_level="warning")
    return 0


def _limit_per_client(demo, most: int) -> None:
    """At most `most` questions waiting per client (user name, else address), so one client
    cannot fill the queue that everyone shares. Gradio has no such setting; this wraps the
    queue's own admission step and answers the way a full queue does."""
    queue = demo._queue
    push = queue.push

    def who(request, username):
        return username or (request.client.host if request is not None and request.client else "?")

    async def limited(body, request, username):
        mine = who(request, username)
        waiting = sum(
            1 for q in queue.event_queue_per_concurrency_id.values() for e in q.queue
            if who(e.request, e.username) == mine
        )
        if waiting >= most:
            return False, f"You already have {waiting} questions waiting; ask again when they are answered.", "queue_full"
        return await push(body, request, username)

    queue.push = limited


@lru_cache(maxsize=64)
def _article_text_cached(source: str, mtime: float) -> str | None:
    from ingest.load import LoadError, load_article

    try:
        return load_article(Path(source)).text
    except (LoadError, OSError):
        return None


def _article_text(source: str) -> str | None:
    try:
        return _article_text_cached(source, Path(source).stat().st_mtime)
    except OSError:
        return None


CSS = """
.cite { font-weight: 600; text-decoration: none; color: #1d4ed8; cursor: pointer; padding: 0 1px; }
.refusal { color: #92400e; background: #fffbeb; border-left: 4px solid #f59e0b; padding: 6px 10px; }
.error { color: #991b1b; background: #fef2f2; border-left: 4px solid #dc2626; padding: 6px 10px; }
.searched, .why { font-size: 0.8em; color: #6b7280; margin-top: 6px; }
.source-card { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 10px; margin: 8px 0; transition: box-shadow .3s; }
.source-card.flash, .source-card:target { box-shadow: 0 0 0 3px #f59e0b; }
.source-meta { font-size: 0.8em; color: #6b7280; }
.passage { margin-top: 6px; white-space: pre-wrap; font-size: 0.9em; }
.article { white-space: pre-wrap; font-size: 0.85em; max-height: 320px; overflow: auto; }
mark.quote { background: #fde68a; padding: 0 2px; }
"""

# Clicking a marker scrolls its source card into view and makes it flash.
HEAD = """
<script>
document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a.cite');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const id = (link.getAttribute('href') || '').replace('#', '');
  const card = document.getElementById(id);
  if (!card) return;
  card.scrollIntoView({behavior: 'smooth', block: 'center'});
  document.querySelectorAll('.source-card.flash').forEach((el) => el.classList.remove('flash'));
  card.classList.add('flash');
  const details = card.querySelector('details'); if (details) details.open = true;
  const mark = card.querySelector('mark.quote'); if (mark) mark.scrollIntoView({block: 'nearest'});
}, true);
</script>
"""
