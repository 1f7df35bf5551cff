"""Hash sets: VICS, plain and CSV formats in and out of the store; category profiles."""

from kaitiaki.hashsets.derived import add_entries, write_hash_set
from kaitiaki.hashsets.entry import (
    Entry,
    HashSetError,
    HashSetExistsError,
    HashSetFormatError,
    HashSetMissingError,
    Parsed,
)
from kaitiaki.hashsets.export import export_hash_set, iter_entries
from kaitiaki.hashsets.profiles import CategoryProfile, UnknownProfileError, get_profile
from kaitiaki.hashsets.store import (
    count_entries,
    get_hash_set,
    import_hash_set,
    list_hash_sets,
    remove_hash_set,
    set_enabled,
)
from kaitiaki.hashsets.vics import export_vics

__all__ = [
    "CategoryProfile",
    "Entry",
    "HashSetError",
    "HashSetExistsError",
    "HashSetFormatError",
    "HashSetMissingError",
    "Parsed",
    "UnknownProfileError",
    "add_entries",
    "count_entries",
    "export_hash_set",
    "export_vics",
    "get_hash_set",
    "get_profile",
    "import_hash_set",
    "iter_entries",
    "list_hash_sets",
    "remove_hash_set",
    "set_enabled",
    "write_hash_set",
]
