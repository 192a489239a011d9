"""pytest plugin for samlconf (registered through the `pytest11` entry point). Filled in by the harness."""
