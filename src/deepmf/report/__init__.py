"""Aggregate finished runs into the paper's tables and figure (``python -m deepmf.report``)."""

from deepmf.report.aggregate import Report, aggregate, write_report
from deepmf.report.collect import find_jobs
from deepmf.report.job import Job

__all__ = ["Job", "Report", "aggregate", "find_jobs", "write_report"]
