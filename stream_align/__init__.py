"""stream-align: keeps two knowledge graphs aligned while they change."""

__version__ = "0.1.0"
