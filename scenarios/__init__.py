"""samlconf's scenario suite. Each module registers scenarios with `harness.registry.scenario`.

Run it with `samlconf run` or `pytest --pyargs scenarios` (the samlconf pytest plugin collects it).
"""
