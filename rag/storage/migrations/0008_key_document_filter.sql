-- Document-level access (rag/access.py DocumentScope): a scoped key's document filter, a JSON object
-- {"metadata key": ["any", "of"]}; NULL for every document of the key's collections.
ALTER TABLE api_keys ADD COLUMN documents text;
