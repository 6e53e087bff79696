"""Built-in checks: one module per check, named after its id. Modules starting with _ are helpers."""
