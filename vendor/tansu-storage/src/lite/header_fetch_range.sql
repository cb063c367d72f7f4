-- weir: the headers of every record of a fetch in one query (lite.rs used to
-- run header_fetch.sql once per record), in offset order and, within a
-- record, in insertion order. SQLite only (rowid).
--
-- $1 cluster, $2 topic, $3 partition, $4 first offset, $5 last offset (inclusive)

select h.offset_id, h.k, h.v

from

cluster c
join topic t on t.cluster = c.id
join topition tp on tp.topic = t.id
join header h on h.topition = tp.id

where

c.name = $1
and t.name = $2
and tp.partition = $3
and h.offset_id >= $4
and h.offset_id <= $5

order by h.offset_id, h.rowid;
