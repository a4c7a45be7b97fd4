-- Free words also match the text inside an object (images, commands, env values, status and
-- event messages), as Karpor's full-text content does. Only string values count, not keys, so
-- "image" does not match every pod; the text is capped so a huge ConfigMap cannot overflow a
-- tsvector (1 MB) and fail its insert. Immutable, so a generated column may call it.
CREATE OR REPLACE FUNCTION atoll_object_text(object jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT left(coalesce(string_agg(value #>> '{}', ' '), ''), 100000)
  FROM jsonb_path_query(object, 'strict $.** ? (@.type() == "string")') AS value
$$;
