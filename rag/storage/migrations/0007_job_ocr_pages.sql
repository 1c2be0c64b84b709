-- OCR progress of ingestion jobs (rag/storage/jobs/): scanned pages read so far, and to read, in the files opened.
ALTER TABLE jobs ADD COLUMN ocr_pages_done integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN ocr_pages_total integer NOT NULL DEFAULT 0;
