"""Data pipeline: raw files -> Interactions -> LeaveOneOutSplit -> DataModule batches."""
