"""The core engine: pure Python, no Qt and no peewee.

file -> read (wizard.core.reading) -> detect + convert (wizard.core.detection, adapters)
-> canonical ExportData dict -> preflight report (wizard.core.preflight).
`wizard.core.inspection.inspect_file` runs the whole chain.
"""
