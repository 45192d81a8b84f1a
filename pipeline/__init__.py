"""labelaudit: audit supplement label files against the calcium + vitamin K2 protocol."""

import os

__version__ = "0.1.0"

# Arrow's default allocator (mimalloc) keeps the memory a stage frees for its own reuse: a
# report over 8,000 label files then peaks ~90 MB higher than with the C library's malloc,
# which gives it back. Set before pyarrow is imported (here, in every process of a run,
# and inherited by its child processes); ARROW_DEFAULT_MEMORY_POOL set by the user wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
