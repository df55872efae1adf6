"""Aggregate finished runs into the paper's tables and figure (``python -m deepmf.report``)."""

from deepmf.report.aggregate import Report, aggregate, write_report
from deepmf.report.collect import Job, find_jobs

__all__ = ["Job", "Report", "aggregate", "find_jobs", "write_report"]
