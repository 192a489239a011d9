"""Repository-level pytest configuration. The samlconf plugin itself is registered once, by the
`pytest11` entry point in pyproject.toml; nothing here registers it again."""
