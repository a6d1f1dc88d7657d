"""A small Sphinx extension for the kit's book.

- Drop duplicated inline scripts: sphinx-thebe registers its inline configuration script once per reading pass;
  pages then declare ``const THEBE_JS_URL`` twice and the browser reports an error. Keeping the first copy of each
  script fixes it.
- ``.. kit-vocabulary:: kit.results.METRICS``: a two-column table of one of the kit's name → description
  dictionaries, read from the code when the book is built (the API page shows the vocabulary this way). The
  descriptions are shown as plain text, not parsed as reST.
"""

import importlib

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # an inline script may be registered once with filename None and once with '' — same script
        key = (getattr(script, "filename", None) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


class Vocabulary(SphinxDirective):
    """A table of the dictionary named by the argument (``module.NAME``): key as code, value as text."""

    required_arguments = 1

    def run(self):
        module, _, name = self.arguments[0].rpartition(".")
        try:
            table = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            raise ExtensionError(f"kit-vocabulary: cannot read {self.arguments[0]} ({e})") from None
        if not isinstance(table, dict):
            raise ExtensionError(f"kit-vocabulary: {self.arguments[0]} is a {type(table).__name__}, not a dict")
        group = nodes.tgroup(cols=2)
        group += [nodes.colspec(colwidth=1), nodes.colspec(colwidth=4)]
        body = nodes.tbody()
        for key, text in table.items():
            row = nodes.row()
            row += nodes.entry("", nodes.paragraph("", "", nodes.literal(text=str(key))))
            row += nodes.entry("", nodes.paragraph(text=str(text)))
            body += row
        group += body
        return [nodes.table("", group, classes=["kit-vocabulary"])]


def setup(app):
    app.connect("html-page-context", _dedupe_scripts)
    app.add_directive("kit-vocabulary", Vocabulary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
