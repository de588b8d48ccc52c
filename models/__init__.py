"""Demo and benchmark models; builders live in submodules so importing this stays light."""
