"""What spans domains: registering, changing or erasing an account, changing or ending a
couple, and the export. Each domain package reaches only downward; these flows are the one
place allowed to call across them, in the order a person's life needs."""
