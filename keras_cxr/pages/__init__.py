"""Self-contained HTML pages: ``report.html`` of evaluate, audit, explain and demo, and the ``serve`` page.

Jinja2 templates under ``templates/``; Markdown reports rendered with Python-Markdown; pictures embedded
as ``data:`` URIs, so nothing on a page needs the network.
"""

from keras_cxr.pages.report_page import write_report_page

__all__ = ["write_report_page"]
