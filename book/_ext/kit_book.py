"""A small Sphinx extension for the kit's book: drop duplicated inline scripts.

sphinx-thebe registers its inline configuration script once per reading pass; pages then declare
``const THEBE_JS_URL`` twice and the browser reports an error. Keeping the first copy of each script fixes it.
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # an inline script may be registered once with filename None and once with '' — same script
        key = (getattr(script, "filename", None) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
