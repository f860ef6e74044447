-- Organisation profile fields the administration pages edit (domain §5.7): the organisation's id in
-- the regional health information system (ГИС ЕЦП) and the contact person.
ALTER TABLE organisations ADD COLUMN gis_ecp_id TEXT;
ALTER TABLE organisations ADD COLUMN contact_name TEXT;
