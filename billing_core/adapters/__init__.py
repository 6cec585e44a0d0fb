"""The adapters: the outside world behind the ports (HTTP services and the pin file)."""
