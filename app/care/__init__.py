"""Care phases (SPEC §12): the days a person needs a bit more care, sealed per person, of
which their partner learns only "a gentle day"."""
