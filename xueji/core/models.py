"""No models: this app holds no tables of its own."""
