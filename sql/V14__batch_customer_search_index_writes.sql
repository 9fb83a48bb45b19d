-- Writing each new customer's trigrams straight into the GIN index (fastupdate = off, V13) cost
-- most of a customer insert: one posting-list update per trigram, 351 of 413 us at 80,000
-- customers. A pending list batches them (112 us), and at the smallest limit (64 kB, a few
-- hundred customers) the list a search reads besides the index stays a handful of pages; the
-- insert that fills it merges it into the index.
alter index search.customers_search_text_idx set (fastupdate = on, gin_pending_list_limit = 64);
