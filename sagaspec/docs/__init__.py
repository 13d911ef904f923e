"""Documentation and reports: the docs site, diagrams, AsyncAPI and HTML reports.

* :func:`build_site` / :func:`write_site` — ``sagaspec docs``: offline HTML plus Markdown
  for a design (flows and state machines from the model, events from the schemas).
* :func:`asyncapi_document` — the AsyncAPI 3.0 document of a design.
* :func:`check_report_html` / :func:`conform_report_html` — single-file HTML reports of a
  model-checking result and of a conformance run.
* :class:`SequenceDiagram` / :class:`StateMachine` — diagrams as data, rendered to SVG
  (pure Python) and Mermaid; :func:`path_diagram` turns a model path into one.
"""

from sagaspec.docs.asyncapi import asyncapi_document, to_json, to_yaml
from sagaspec.docs.diagrams import (
    Divider,
    Lifeline,
    Message,
    Note,
    SequenceDiagram,
    State,
    StateMachine,
    Transition,
)
from sagaspec.docs.flows import Flow, ModelView, explore_one_saga
from sagaspec.docs.reports import (
    ConformRun,
    HtmlConformReport,
    check_report_html,
    conform_report_html,
)
from sagaspec.docs.site import REGENERATE_COMMAND, Site, build_site, write_site
from sagaspec.docs.traces import path_diagram

__all__ = [
    "asyncapi_document",
    "to_json",
    "to_yaml",
    "Divider",
    "Lifeline",
    "Message",
    "Note",
    "SequenceDiagram",
    "State",
    "StateMachine",
    "Transition",
    "Flow",
    "ModelView",
    "explore_one_saga",
    "ConformRun",
    "HtmlConformReport",
    "check_report_html",
    "conform_report_html",
    "REGENERATE_COMMAND",
    "Site",
    "build_site",
    "write_site",
    "path_diagram",
]
