"""The Gradio chat page: a client of the engine's public streaming API, nothing more.

Handlers are plain functions of an `Engine` (see `Handlers`), so tests call them directly; the
Blocks layout only wires them to components.
"""

from __future__ import annotations

import html
import shutil
import sys
from functools import lru_cache
from pathlib import Path

from rag.engine import Engine, get_engine
from rag.settings import BACKENDS, Settings
from rag.types import Answer
from ui.render import answer_html, error_html, sources_html

EXAMPLES = [
    "How much aid money has Zhejiang given Qinghai since 2010?",
    "Who led the Zhejiang delegation to Naqu?",
    "Which areas of cooperation did Wang Guosheng propose?",
    "What did the delegation visit during the investigation in Naqu?",
]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Handlers:
    """What the page does, as functions a test can call without a browser."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def respond(self, message: str, chat: list[dict], pairs: list, k: int, backend: str, temperature: float):
        """Stream one answer. Yields (chat, sources_html, pairs, textbox) after each piece."""
        chat = [*chat, {"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
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
                chat[-1] = {"role": "assistant", "content": html.escape(text) + " ▍"}
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
        """Copy uploads into data/uploads (so they survive a re-ingest) and index them."""
        if not files:
            return "Choose one or more .txt, .md, .html or .pdf files first."
        target = Path(self.engine.settings.data_dir) / "uploads"
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for f in files:
            src = Path(getattr(f, "name", f))
            dest = target / src.name
            shutil.copyfile(src, dest)
            paths.append(dest)
        done: list = []

        def on_file(result):
            done.append(result)
            if progress is not None:
                progress(len(done) / len(paths), desc=f"Indexed {Path(result.path).name}")

        report = self.engine.ingest(paths, progress=False, on_file=on_file)
        rows = [
            f"| {Path(r.path).name} | {r.status}{': ' + r.reason if r.reason else ''} | {r.chunks} |"
            for r in report.results
        ]
        return "| file | result | chunks |\n|---|---|---|\n" + "\n".join(rows) + f"\n\n{report.summary()}"

    def delete(self, doc_id: str | None) -> str:
        if not doc_id:
            return "Pick an article to delete."
        known = {m["doc_id"]: m for m in self.engine.store.articles()}
        if doc_id not in known:
            return "That article is no longer in the index."
        self.engine.delete_article(doc_id)
        name = Path(known[doc_id].get("source", "")).name
        return (
            f"Removed **{known[doc_id].get('title', '')}** from the index. The file {name} is "
            "untouched: remove it from the data folder too, or the next ingest adds it again."
        )


def build(engine: Engine):
    import gradio as gr

    h = Handlers(engine)
    with gr.Blocks(title="News Q&A") as demo:
        gr.Markdown("## Ask the news articles\nEvery claim cites its source; click a marker like [1] to see the evidence.")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Answers", height=480, elem_id="chat", sanitize_html=False)
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
            send.click(h.respond, inputs, outputs, concurrency_limit=1, concurrency_id="generate")
            box.submit(h.respond, inputs, outputs, concurrency_limit=1, concurrency_id="generate")
            clear.click(lambda: ([], "", []), None, [chatbot, sources, pairs])
        with gr.Tab("Articles") as tab:
            table = gr.Dataframe(headers=["title", "date", "chunks", "file"], value=h.articles_table, interactive=False)
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

            add.click(upload, files, result).then(refresh, None, [table, pick])
            remove.click(h.delete, pick, result).then(refresh, None, [table, pick])
            tab.select(refresh, None, [table, pick])
    return demo


def launch(settings: Settings, ingest: bool = True) -> int:
    if settings.ui_host not in LOOPBACK and ":" not in settings.ui_auth:
        raise ValueError(
            f"Binding the page to {settings.ui_host} exposes it to the network: set "
            "RAG_UI_AUTH=user:password (or bind to 127.0.0.1)."
        )
    engine = get_engine(settings)
    if ingest:
        print(engine.ingest(progress=True).summary(), file=sys.stderr)
    demo = build(engine)
    demo.queue(default_concurrency_limit=1, max_size=64)
    auth = tuple(settings.ui_auth.split(":", 1)) if settings.ui_host not in LOOPBACK else None
    print(f"Chat page: http://{settings.ui_host}:{settings.ui_port}", file=sys.stderr)
    demo.launch(
        server_name=settings.ui_host,
        server_port=settings.ui_port,
        auth=auth,
        css=CSS,
        head=HEAD,
        footer_links=[],
        show_error=False,
    )
    return 0


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
.searched { font-size: 0.8em; color: #6b7280; margin-top: 6px; }
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
