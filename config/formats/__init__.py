"""Date formats of both languages (``FORMAT_MODULE_PATH``): YYYY-MM-DD everywhere (issue 8 item 12)."""
