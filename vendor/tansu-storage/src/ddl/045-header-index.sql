-- weir: the header table had no index, so every lookup of one record's
-- headers (once per fetched record) and every cascade from a deleted record
-- scanned the whole table: a fetch of ~2,000 records over a 40,000-header
-- log took minutes and held the storage service. Only the SQLite engine
-- (lite.rs) runs this file.

create index if not exists header_topition_offset_id on header (topition, offset_id);
