-- Document-level access (rag/access.py DocumentScope). api_keys.documents: a scoped key's document filter, a
-- JSON object {"metadata key": ["any", "of"]}, NULL for every document of the key's collections.
-- answers.scope: the filter an answer was given under ("department=hr,people"), NULL for none: a filtered key's
-- insights and feedback see only the answers given under its own filter.
ALTER TABLE api_keys ADD COLUMN documents text;
ALTER TABLE answers ADD COLUMN scope text;
