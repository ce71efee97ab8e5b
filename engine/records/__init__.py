"""The records kept beside the processes: the ledger and assets, receivables, evidence files, the
public board (publicity), notices and their delivery, complaint leads and holds."""
