"""Internal: packaged data files (proxy-token list, sample site, public suffix list)."""
