"""One module per source family; each exports ``FORMATS`` (see wizard.core.formats)."""
