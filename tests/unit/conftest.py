# Unit tests need no broker and no database.
