"""Readers: one module per kind of label file, each turning a file into a FileExtraction."""
