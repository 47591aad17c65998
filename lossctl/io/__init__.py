"""Reading what the user gives (literals, files, standard input, tables, images) and writing what they ask for.

Knows nothing about losses: parsing gives float arrays, saving takes arrays.  See docs/architecture.md.
"""
