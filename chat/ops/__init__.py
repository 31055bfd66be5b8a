"""Operations: the embedded database, backup and restore, migrations, roster import, config file,
demo seed, logging.
"""
