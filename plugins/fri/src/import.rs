//! FRI connector, hook `import`: turns one incoming document (an FRI extract as XML, or a ZIP holding extracts)
//! into one [`RecordOutcome`] per `Документ`: IPRA documents, execution reports already sent, or skipped kinds.
//!
//! # Where each IPRA version carries what
//!
//! Fields are read by record category and attribute code, never by position (the same code means different
//! things in different categories). Checked against every public sample:
//!
//! | field | IPRA_20160101 | IPRA_20170812 | IPRA_20190101 | IPRA_20221024 |
//! |---|---|---|---|---|
//! | number | `РеквизитыДокумента/Номер` (= GENERAL `Number`) | same | same | same |
//! | protocol number / date | GENERAL `ProtocolNum` / `ProtocolDate` | same | same | same |
//! | decision date | — (`РеквизитыДокумента/Дата` is used) | GENERAL `DecisionDate` | GENERAL `DecisionDate` | GENERAL `DecisionDate` |
//! | valid until | GENERAL `EndDate` | GENERAL `EndDate` | GENERAL `EndDate` | — (`СрокДействия`) |
//! | issued by | `MSE.BURO/BuroFullName` | same | same | `MSE.BURO/BuroName` |
//! | child | GENERAL `IsChild` | GENERAL `IsChild` | GENERAL `IsChild` | — (`Ребенок`, else age < 18 at the decision date) |
//! | address | `GENERAL.ADDRESS/AddressString` | same | same | parts (`ZipCode`, `RegionName`, `AreaName`, `CityName`, `StreetName`, `House`, …) |
//! | territory | `GENERAL.ADDRESS/DistrictGuidFIAS`, else `District` | `District` | `DistrictGuidFIAS`, else `District` | `DistrictName`, else `AreaName` |
//!
//! GENERAL is `MSE.IPRA.GENERAL`. The person (SNILS, names, birth date, gender) comes from the extract's
//! `ПерсональныеДанные`, falling back to the document's `GENERAL.PERSON` record; a `GENERAL.PERSON/SNILS` that
//! differs from the extract's SNILS is an error. The older `ВсеФайлы` model carries no version code: an IPRA
//! file there is read the same way, by the codes in its fields' `id` attributes, with version `IPRA`.
//!
//! **Territory code.** The routing code is the FIAS GUID of the municipal district (`DistrictGuidFIAS`) when
//! the address has one — a stable identifier independent of spelling — else the district's name as written
//! (`District`, `DistrictName` or `AreaName`). The host resolves either against its `territories` list (by
//! code, then by name); the raw `DistrictGuidFIAS` and `District` values are also kept in the person's `extra`.
//!
//! # Measures
//!
//! | categories | kind | code | name | GUID |
//! |---|---|---|---|---|
//! | `MSE.IPRA.*.EVENT`, `MSE.IPRA.REHAB` | rehabilitation measure | `EventSubtypeCode`, `EventTypeCode`, `GroupTypeId`, `WorkplaceEquipmentCode`, `Code` | `EventSubtypeName`, `EventTypeName`, `GroupTypeName`, `WorkplaceEquipmentName`, `AdditionalText`, `Name` | `EventGUID`, `WPRecommendationGUID`, `Id` |
//! | `MSE.IPRA.TSR.*.ITEM`, `MSE.IPRA.TSR.MSK`, `MSE.IPRA.TSR.LOCAL` | TSR item or service | `Code` | `Name`, `ServiceName` | `TSRGUID`, `ServiceGUID`, `Id` |
//! | `MSE.IPRA.HELPITEM` | help in overcoming barriers | `HelpId` | `HelpValue` | `Id` |
//! | `MSE.IPRA.PROF.RECOMMEND` | recommended work conditions | `WorkingConditionsCode`, `Class` | `WorkingConditionsName`, `Name` | — |
//!
//! The key is `Запись/Ключ` (three `MSE.IPRA.REHAB` records of the IPRA_20221024 sample share one `EventGUID`,
//! so the GUID cannot be the key). A key repeated within a document (a real sample has one) is made unique as
//! `key@category` (or `key#position`) with a warning. A record with `IsNeeded=false` is not a measure; TSR parameter records
//! (no item code, name or service) are not measures either. Executors are kept as given; an `ExecutorOGRN`
//! that is not a valid OGRN (the 2022 sample has 7–8 digit values) gives a warning, never a rejection.
//! `section` stays empty: the host maps the category with its versioned reference list — for `MSE.IPRA.REHAB`
//! by the type the form gives the record (`EventTypeCode` of the 2022 form; `GroupTypeId` and `GroupTypeName`
//! of the 2016, 2017 and 2019 forms), which is why those attributes are kept in the measure's `extra`.

use crate::extract::{value, ExtractReader, Header, Model, RawDocument, ReadError, Record};
use ipra_plugin_sdk::archive::{self, ArchiveLimits};
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, Document, ImportOutput, IpraExtract, Measure, Normalized, Person, PluginError, PriorReport,
    RecordOutcome,
};
use ipra_plugin_sdk::date::Date;
use ipra_plugin_sdk::error::{field_error, missing_field};
use ipra_plugin_sdk::{ogrn, snils, xml};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A word-at-a-time multiplicative hash for the few small sets of one extract (document IDs,
/// measure keys). The standard SipHash guards a long-lived map against chosen collisions; these
/// live for one call over one file, and SipHash plus its random seed (a host call in the sandbox)
/// were a visible part of an import.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
        for &byte in chunks.remainder() {
            self.add(u64::from(byte));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl KeyHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;
type KeySet<K> = HashSet<K, BuildHasherDefault<KeyHasher>>;

/// Largest document (or ZIP) accepted; larger input is refused before parsing.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// IPRA document versions this connector reads.
pub const IPRA_VERSIONS: [&str; 4] = ["IPRA_20160101", "IPRA_20170812", "IPRA_20190101", "IPRA_20221024"];

const GENERAL: &str = "MSE.IPRA.GENERAL";
const PERSON: &str = "GENERAL.PERSON";
const ADDRESS: &str = "GENERAL.ADDRESS";

/// Reads one incoming document natively or inside the plugin: the very same code.
pub fn import_document(document: &Document) -> Result<ImportOutput, PluginError> {
    if document.bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(PluginError::new(
            "document-too-large",
            format!(
                "документ «{}» слишком велик: {} байт, допускается не более {} МиБ",
                document.name,
                document.bytes.len(),
                MAX_DOCUMENT_BYTES / (1024 * 1024)
            ),
        ));
    }
    if crate::receipt::looks_like_receipt(&document.bytes) {
        return Ok(ImportOutput {
            records: vec![crate::receipt::read(&document.name, &document.bytes)?],
            claims: Vec::new(),
            follow_ups: Vec::new(),
            warnings: Vec::new(),
        });
    }
    let mut import = Import::default();
    if archive::is_zip(&document.bytes) {
        let entries = archive::extract_xml(&document.bytes, &ArchiveLimits::default())
            .map_err(|e| PluginError::new(e.code(), format!("архив «{}»: {e}", document.name)))?;
        if entries.is_empty() {
            return Err(PluginError::new(
                "archive-empty",
                format!("архив «{}» не содержит XML-файлов", document.name),
            ));
        }
        for entry in &entries {
            import.read_xml(&entry.bytes, Some(&entry.name), "application/xml")?;
        }
    } else {
        import.read_xml(&document.bytes, None, &document.media_type)?;
    }
    Ok(ImportOutput {
        records: import.records,
        claims: Vec::new(),
        follow_ups: Vec::new(),
        warnings: import.warnings,
    })
}

#[derive(Default)]
struct Import {
    records: Vec<RecordOutcome>,
    warnings: Vec<PluginError>,
    /// Document IDs seen so far (in every file of a ZIP) and where.
    documents: KeyMap<String, String>,
    /// IPRA identities (number, protocol number, protocol date, SNILS) seen so far and where.
    identities: KeyMap<(String, String, String, String), String>,
}

fn where_in(entry: Option<&str>) -> String {
    entry.map(|e| format!("файл «{e}» в архиве: ")).unwrap_or_default()
}

impl Import {
    /// Reads one XML file: the document itself, or an entry of its ZIP (`entry`). `media_type` may carry the
    /// host's word that the bytes are UTF-8 (see `xml::decode_incoming`).
    fn read_xml(&mut self, bytes: &[u8], entry: Option<&str>, media_type: &str) -> Result<(), PluginError> {
        let xml_error = |e: xml::XmlError| PluginError::new(e.code(), format!("{}{e}", where_in(entry)));
        let text = xml::decode_incoming(bytes, media_type).map_err(xml_error)?;
        let (mut reader, header) =
            ExtractReader::open(&text).map_err(|e| match e {
                ReadError::Xml(e) => xml_error(e),
                ReadError::WrongRoot(root) => PluginError::new(
                    "wrong-root",
                    format!(
                    "{}корневой элемент <{}>{} — это не выписка ФРИ (ожидается fri:ВыпискаФРИ в пространстве имён {})",
                    where_in(entry),
                    root.name,
                    root.namespace.map(|n| format!(" (пространство имён {n})")).unwrap_or_default(),
                    crate::extract::FRI_NAMESPACE
                ),
                ),
                ReadError::Empty => PluginError::new(
                    "xml-malformed",
                    format!("{}документ не содержит корневого элемента", where_in(entry)),
                ),
            })?;
        let before = self.records.len();
        while let Some(raw) = reader.next_document().map_err(xml_error)? {
            let kind = value(&raw.version).or(value(&raw.type_code)).unwrap_or("тип не указан");
            let locator = format!(
                "{}Документ {} ({kind})",
                entry.map(|e| format!("{e}: ")).unwrap_or_default(),
                raw.position
            );
            let outcome = self.interpret(&raw, &header, &locator);
            self.records.push(RecordOutcome { locator, outcome });
        }
        if self.records.len() == before {
            // An extract that holds no document at all (nothing under ВсеДокументы, or only elements
            // this reader does not know) is said so, never counted as a file with nothing new.
            let mut error = PluginError::new(
                "empty-extract",
                format!(
                    "{}выписка ФРИ не содержит ни одного документа (нет элементов fri:Документ в fri:ВсеДокументы): загружать нечего",
                    where_in(entry)
                ),
            );
            error.field = Some("ВсеДокументы".into());
            return Err(error);
        }
        Ok(())
    }

    fn interpret(
        &mut self,
        raw: &RawDocument<'_>,
        header: &Header<'_>,
        locator: &str,
    ) -> Result<Normalized, PluginError> {
        if let Some(id) = value(&raw.id) {
            if let Some(first) = self.documents.get(id) {
                return Err(field_error(
                    "duplicate-document",
                    format!("документ с ID {id} уже встречался в выписке ({first}) — повтор не загружается"),
                    locator,
                    "ID",
                ));
            }
            self.documents.insert(id.to_string(), locator.to_string());
        }
        let version = value(&raw.version);
        let type_code = value(&raw.type_code);
        let is_ipra = match version {
            Some(v) => v.starts_with("IPRA_"),
            None => raw.model == Model::Files && type_code == Some("IPRA"),
        };
        if is_ipra {
            return self.ipra(raw, header, locator).map(Normalized::Ipra);
        }
        let is_execution = version.is_some_and(|v| v.starts_with("RESOC_") || v.starts_with("PRPEXEC_"))
            || value(&raw.execution) == Some("true");
        if is_execution {
            return self.prior_report(raw, header, locator).map(Normalized::PriorReport);
        }
        Ok(Normalized::Skipped(format!(
            "документ {} ({}) не является ИПРА или сведениями об её исполнении — в реестр не загружается",
            version.or(type_code).unwrap_or("без типа"),
            value(&raw.type_name).unwrap_or("наименование типа не указано")
        )))
    }

    fn ipra(&mut self, raw: &RawDocument<'_>, header: &Header<'_>, locator: &str) -> Result<IpraExtract, PluginError> {
        let document_version = match value(&raw.version) {
            Some(v) if IPRA_VERSIONS.contains(&v) => v.to_string(),
            Some(v) => {
                return Err(field_error(
                    "unknown-version",
                    format!(
                        "версия документа ИПРА {v} не поддерживается (поддерживаются {})",
                        IPRA_VERSIONS.join(", ")
                    ),
                    locator,
                    "КодВерсия",
                ))
            }
            None => "IPRA".to_string(),
        };
        let general = |code: &str| raw.category_attribute(GENERAL, code);
        let document_id = value(&raw.id)
            .or(value(&raw.key))
            .ok_or_else(|| missing_field(locator, "ID документа"))?;
        let number = value(&raw.number)
            .or(general("Number"))
            .ok_or_else(|| missing_field(locator, "Номер ИПРА"))?;
        if let (Some(requisite), Some(attribute)) = (value(&raw.number), general("Number")) {
            if requisite != attribute {
                self.warnings.push(field_error(
                    "number-mismatch",
                    format!("номер в реквизитах документа «{requisite}» и в общих сведениях ИПРА «{attribute}» различаются; принят номер из реквизитов"),
                    locator,
                    "Номер ИПРА",
                ));
            }
        }
        let protocol_number = general("ProtocolNum").ok_or_else(|| missing_field(locator, "Номер протокола МСЭ"))?;
        let protocol_date = date(general("ProtocolDate"), locator, "Дата протокола МСЭ")?
            .ok_or_else(|| missing_field(locator, "Дата протокола МСЭ"))?;
        let snils = person_snils(raw, header, locator)?;
        let decision_date = date(general("DecisionDate").or(value(&raw.date)), locator, "Дата решения")?;
        let valid_until = date(
            general("EndDate").or(value(&raw.valid_until)),
            locator,
            "Срок действия ИПРА",
        )?;
        let issued_by = raw
            .records_of("MSE.BURO")
            .find_map(|r| raw.first_of(r, &["BuroFullName", "BuroName", "BuroOrgName", "BuroShortName"]))
            .or(value(&raw.source_name))
            .map(str::to_string);

        let person_attribute = |code: &str| raw.category_attribute(PERSON, code);
        let birth_date = date(
            value(&header.birth_date).or(person_attribute("BirthDate")),
            locator,
            "Дата рождения",
        )?;
        if let (Some(born), Some(decided)) = (birth_date, decision_date) {
            if born > decided {
                return Err(field_error(
                    "date-invalid",
                    format!("дата рождения {born} позже даты решения {decided}"),
                    locator,
                    "Дата рождения",
                ));
            }
        }
        let is_child = match general("IsChild").or(value(&header.child)) {
            Some(flag) => flag.eq_ignore_ascii_case("true") || flag == "1",
            None => match (birth_date, decision_date) {
                (Some(born), Some(decided)) => born.age_on(decided) < 18,
                _ => false,
            },
        };
        let surname = value(&header.surname)
            .or(person_attribute("LastName"))
            .ok_or_else(|| missing_field(locator, "Фамилия"))?;
        let given_name = value(&header.given_name)
            .or(person_attribute("FirstName"))
            .unwrap_or("");
        let patronymic = value(&header.patronymic).or(person_attribute("MiddleName"));
        let gender = value(&header.gender)
            .or(person_attribute("Gender"))
            .and_then(|g| match g {
                "M" | "М" | "м" | "m" => Some("M"),
                "F" | "Ж" | "ж" | "f" => Some("F"),
                _ => None,
            });

        let address_record = raw.records_of(ADDRESS).next();
        let mut person_extra = Vec::new();
        push(&mut person_extra, "ДатаРегистрации", value(&header.registered));
        let (territory_code, address) = match address_record {
            Some(record) => {
                push(
                    &mut person_extra,
                    "DistrictGuidFIAS",
                    meaningful(raw.attribute(record, "DistrictGuidFIAS")),
                );
                push(
                    &mut person_extra,
                    "District",
                    ["District", "DistrictName", "AreaName"]
                        .iter()
                        .find_map(|c| meaningful(raw.attribute(record, c))),
                );
                (
                    territory(raw, record),
                    Some(one_line_address(raw, record)).filter(|a| !a.is_empty()),
                )
            }
            None => (None, None),
        };

        let measures = self.measures(raw, locator)?;
        let identity = (
            number.to_string(),
            protocol_number.to_string(),
            protocol_date.to_string(),
            snils.clone(),
        );
        if let Some(first) = self.identities.get(&identity) {
            return Err(field_error(
                "duplicate-ipra",
                format!(
                    "ИПРА № {number} (протокол {protocol_number} от {protocol_date}) уже встречалась в выписке ({first})"
                ),
                locator,
                "Номер ИПРА",
            ));
        }
        self.identities.insert(identity, locator.to_string());

        Ok(IpraExtract {
            extract_id: value(&header.extract_id).unwrap_or_default().to_string(),
            document_id: document_id.to_string(),
            document_version,
            number: number.to_string(),
            protocol_number: protocol_number.to_string(),
            protocol_date: protocol_date.to_string(),
            decision_date: decision_date.map(|d| d.to_string()),
            valid_until: valid_until.map(|d| d.to_string()),
            issued_by,
            is_child,
            person: Person {
                snils,
                surname: surname.to_string(),
                given_name: given_name.to_string(),
                patronymic: patronymic.map(str::to_string),
                birth_date: birth_date.map(|d| d.to_string()),
                gender: gender.map(str::to_string),
                territory_code,
                address,
                extra: person_extra,
            },
            measures,
            extra: ipra_extra(raw, header),
        })
    }

    fn measures(&mut self, raw: &RawDocument<'_>, locator: &str) -> Result<Vec<Measure>, PluginError> {
        let mut measures = Vec::new();
        let mut keys = KeySet::default();
        for record in &raw.records {
            let Some(category) = value(&record.category_code) else {
                continue;
            };
            let Some(kind) = MeasureKind::of(category) else {
                continue;
            };
            let attribute = |code: &str| raw.attribute(record, code);
            if attribute("IsNeeded").is_some_and(|v| v.eq_ignore_ascii_case("false")) {
                continue;
            }
            let code = raw.first_of(record, kind.code());
            let name = raw.first_of(record, kind.name());
            if kind == MeasureKind::Tsr && code.is_none() && name.is_none() {
                // A parameter of a TSR item (weight of the user, …), not an item itself.
                continue;
            }
            let at = RecordAt(locator, record.position);
            let key = match value(&record.key) {
                Some(key) => key.to_string(),
                None => {
                    let key = format!("{}#{}", value(&raw.key).unwrap_or("запись"), record.position);
                    self.warnings.push(field_error(
                        "missing-field",
                        format!("у мероприятия нет ключа записи; присвоен ключ по положению «{key}»"),
                        at.to_string(),
                        "Ключ",
                    ));
                    key
                }
            };
            // Real extracts repeat a key now and then (extract-20211124093406.xml: a TSR item and a
            // rehabilitation measure share one): the later measure gets a key that is still stable for the
            // same document, and the repetition is reported.
            let key = if keys.contains(&key) {
                let by_category = format!("{key}@{category}");
                let unique = if keys.contains(&by_category) {
                    format!("{key}#{}", record.position)
                } else {
                    by_category
                };
                self.warnings.push(field_error(
                    "duplicate-key",
                    format!("ключ записи {key} повторяется в документе; мероприятию присвоен ключ {unique}"),
                    at.to_string(),
                    "Ключ",
                ));
                unique
            } else {
                key
            };
            keys.insert(key.clone());
            let executor_ogrn = raw.first_of(record, &["ExecutorOGRN", "ExecutorOgrn"]);
            if let Some(ogrn) = executor_ogrn {
                if let Err(e) = ogrn::validate(ogrn) {
                    self.warnings.push(field_error(
                        "executor-ogrn-invalid",
                        format!("ОГРН исполнителя «{ogrn}»: {e}; значение сохранено, исполнитель будет определён правилами маршрутизации"),
                        at.to_string(),
                        "ExecutorOGRN",
                    ));
                }
            }
            let date_from = date(attribute("From"), at, "From")?;
            let date_to = date(attribute("To"), at, "To")?;
            let mut extra = Vec::new();
            for code in MEASURE_EXTRA {
                push(&mut extra, code, attribute(code));
            }
            measures.push(Measure {
                key,
                section: String::new(),
                category_code: category.to_string(),
                category_name: value(&record.category_name).unwrap_or(category).to_string(),
                code: code.map(str::to_string),
                name: name.or(value(&record.category_name)).unwrap_or(category).to_string(),
                guid: raw.first_of(record, kind.guid()).map(str::to_string),
                executor_ogrn: executor_ogrn.map(str::to_string),
                executor_name: raw.first_of(record, &["ExecutorName", "Executor"]).map(str::to_string),
                date_from: date_from.map(|d| d.to_string()),
                date_to: date_to.map(|d| d.to_string()),
                quantity: attribute("Quantity").map(str::to_string),
                extra,
            });
        }
        Ok(measures)
    }

    fn prior_report(
        &mut self,
        raw: &RawDocument<'_>,
        header: &Header<'_>,
        locator: &str,
    ) -> Result<PriorReport, PluginError> {
        let snils = person_snils(raw, header, locator)?;
        let document_id = value(&raw.id)
            .or(value(&raw.key))
            .ok_or_else(|| missing_field(locator, "ID документа"))?;
        let date = date(value(&raw.date), locator, "Дата")?;
        let mut entries = Vec::new();
        for record in &raw.records {
            let attributes = raw.attributes_of(record);
            if attributes.is_empty() {
                continue;
            }
            let category = value(&record.category_code).unwrap_or_default();
            let at = RecordAt(locator, record.position);
            let executed = raw.first_of(record, &["ExecuteDate", "RealizeDate"]);
            let date_from = match Date::parse(executed.unwrap_or_default()) {
                Ok(d) => Some(d.to_string()),
                Err(_) if executed.is_none() => None,
                Err(e) => {
                    // A report someone else sent: kept with the date left out rather than lost.
                    self.warnings
                        .push(field_error(e.code(), e.to_string(), at.to_string(), "ExecuteDate"));
                    None
                }
            };
            entries.push(Measure {
                key: value(&record.key)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("#{}", record.position)),
                section: String::new(),
                category_code: category.to_string(),
                category_name: value(&record.category_name).unwrap_or(category).to_string(),
                code: raw.first_of(record, &["EventCode", "Type"]).map(str::to_string),
                name: raw
                    .first_of(record, &["TSRName", "EventCodeCLS"])
                    .or(value(&record.category_name))
                    .unwrap_or(category)
                    .to_string(),
                guid: raw.first_of(record, &["EventGUID", "Id"]).map(str::to_string),
                executor_ogrn: raw
                    .first_of(record, &["ExecutorOGRN", "ExecutorOgrn"])
                    .map(str::to_string),
                executor_name: raw.first_of(record, &["ExecutorName", "Executor"]).map(str::to_string),
                date_from,
                date_to: None,
                quantity: raw.first_of(record, &["Quantity", "TSRCount"]).map(str::to_string),
                extra: attributes
                    .iter()
                    .filter_map(|a| {
                        value(&a.value).map(|v| Attribute {
                            code: a.code.to_string(),
                            value: v.to_string(),
                        })
                    })
                    .collect(),
            });
        }
        Ok(PriorReport {
            document_id: document_id.to_string(),
            document_version: value(&raw.version)
                .or(value(&raw.type_code))
                .unwrap_or_default()
                .to_string(),
            parent_document_id: value(&raw.parent).map(str::to_string),
            number: value(&raw.number).map(str::to_string),
            date: date.map(|d| d.to_string()),
            source: value(&raw.source_name).or(value(&raw.source_code)).map(str::to_string),
            snils,
            entries,
        })
    }
}

/// The person's SNILS, validated: the extract's `ПерсональныеДанные/СНИЛС`, else `GENERAL.PERSON/SNILS`; both
/// present and different is an error.
fn person_snils(raw: &RawDocument<'_>, header: &Header<'_>, locator: &str) -> Result<String, PluginError> {
    let check = |text: &str| {
        snils::validate(text).map_err(|e| field_error(e.code(), format!("СНИЛС «{text}»: {e}"), locator, "СНИЛС"))
    };
    let document = raw.category_attribute(PERSON, "SNILS");
    let Some(given) = value(&header.snils).or(document) else {
        return Err(missing_field(locator, "СНИЛС"));
    };
    let digits = check(given)?;
    if let Some(other) = document {
        if check(other)? != digits {
            return Err(field_error(
                "snils-mismatch",
                format!("СНИЛС выписки «{given}» не совпадает со СНИЛС в сведениях документа «{other}»"),
                locator,
                "СНИЛС",
            ));
        }
    }
    Ok(digits)
}

/// An optional date field: absent is `None`, present but not a date is a record error naming the field.
fn date(text: Option<&str>, locator: impl fmt::Display, field: &str) -> Result<Option<Date>, PluginError> {
    match text {
        None => Ok(None),
        Some(text) => Date::parse(text)
            .map(Some)
            .map_err(|e| field_error(e.code(), format!("поле «{field}»: {e}"), locator.to_string(), field)),
    }
}

/// Where a record of a document is, for messages (`Документ 1, Запись 3`): written out only when a
/// message needs it, not for every record read.
#[derive(Clone, Copy)]
struct RecordAt<'l>(&'l str, usize);

impl fmt::Display for RecordAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, Запись {}", self.0, self.1)
    }
}

/// A value that says something: addresses write `-` and `нет` for "no such part".
fn meaningful(text: Option<&str>) -> Option<&str> {
    let lowercase_is = |t: &str, word: &str| t.chars().flat_map(char::to_lowercase).eq(word.chars());
    text.filter(|t| !(matches!(*t, "-" | "—") || lowercase_is(t, "нет") || lowercase_is(t, "string")))
}

fn territory(raw: &RawDocument<'_>, record: &Record<'_>) -> Option<String> {
    ["DistrictGuidFIAS", "District", "DistrictName", "AreaName"]
        .iter()
        .find_map(|code| meaningful(raw.attribute(record, code)))
        .map(str::to_string)
}

/// `AddressString` when the address has it (2016–2019 forms), else the parts joined in postal order.
fn one_line_address(raw: &RawDocument<'_>, record: &Record<'_>) -> String {
    if let Some(line) = meaningful(raw.attribute(record, "AddressString")) {
        return line.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let part = |code: &str| meaningful(raw.attribute(record, code));
    let typed = |kind: &str, name: &str| {
        part(name).map(|n| match part(kind) {
            Some(k) => format!("{k} {n}"),
            None => n.to_string(),
        })
    };
    let prefixed = |prefix: &str, code: &str| part(code).map(|v| format!("{prefix} {v}"));
    [
        part("ZipCode").map(str::to_string),
        part("RegionName").or(part("TerritorySubjectName")).map(str::to_string),
        typed("AreaTypeName", "AreaName"),
        typed("CityTypeName", "CityName"),
        typed("PlaceTypeName", "PlaceName").or(part("Place").map(str::to_string)),
        typed("StreetTypeName", "StreetName").or(part("Street").map(str::to_string)),
        prefixed("д.", "House"),
        prefixed("корп.", "Corpus"),
        prefixed("стр.", "Building"),
        prefixed("кв.", "Appartment"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// The few IPRA-level attributes worth keeping; the bulk of an extract is general data the register
/// does not need.
fn ipra_extra(raw: &RawDocument<'_>, header: &Header<'_>) -> Vec<Attribute> {
    let mut extra = Vec::new();
    for code in [
        "TypeOfSubmission",
        "IsFirst",
        "RehabPotentialId",
        "RehabPotentialValue",
        "RehabPrognozId",
        "RehabPrognozValue",
        "AdjustableNumber",
        "AdjustableDate",
    ] {
        push(&mut extra, code, raw.category_attribute(GENERAL, code));
    }
    let group = raw
        .category_attribute("GENERAL.INVALIDITY", "DisabilityGroupId")
        .or(value(&header.disability_group));
    push(&mut extra, "DisabilityGroupId", group);
    push(
        &mut extra,
        "DisabilityGroupName",
        raw.category_attribute("GENERAL.INVALIDITY", "DisabilityGroupValue")
            .or(raw.category_attribute("GENERAL.INVALIDITY", "DisabilityGroupName")),
    );
    // The employer (vocational rehabilitation); codes written with a Cyrillic О are normalised by the reader.
    push(
        &mut extra,
        "OrganizationName",
        raw.category_attribute("MSE.IPRA.PERSON", "OrganizationName"),
    );
    push(
        &mut extra,
        "OrganizationOGRN",
        raw.category_attribute("MSE.IPRA.PERSON", "OrganizationOGRN"),
    );
    push(&mut extra, "Регион", value(&header.region));
    for (code, name) in target_groups(raw) {
        extra.push(Attribute {
            code: format!("{TARGET_GROUP}{code}"),
            value: name.to_string(),
        });
    }
    if early_help(raw) {
        push(&mut extra, EARLY_HELP, Some("true"));
    }
    extra
}

/// The prefix of an IPRA's `extra` attribute naming one of its target rehabilitation groups (ЦРГ):
/// `ЦРГ:CODE` = the group's name.
pub const TARGET_GROUP: &str = "ЦРГ:";
/// The IPRA's `extra` attribute saying the child needs early help (181-ФЗ art. 9.3): `true`.
pub const EARLY_HELP: &str = "РанняяПомощь";

/// Categories of a record that states one target rehabilitation group of the IPRA.
const TARGET_GROUP_CATEGORIES: [&str; 3] = ["MSE.IPRA.TRG", "MSE.IPRA.TARGETGROUP", "MSE.IPRA.CRG"];
const TARGET_GROUP_CODES: [&str; 4] = ["TargetRehabGroupCode", "TargetGroupCode", "TRGCode", "CRGCode"];
const TARGET_GROUP_NAMES: [&str; 4] = ["TargetRehabGroupName", "TargetGroupName", "TRGName", "CRGName"];

/// The IPRA's target rehabilitation groups (ЦРГ), one or several (181-ФЗ art. 9; a separate one for
/// injuries of combat): a record of a target-group category each (its code and name, or `Code`/`Name`),
/// or a code/name pair on any record of the document. No public sample carries them yet: the
/// categories and codes read are the FRI's naming habits (`…Code` + `…Name`), listed in the README.
fn target_groups<'s>(raw: &'s RawDocument<'_>) -> Vec<(&'s str, &'s str)> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for record in &raw.records {
        let category = value(&record.category_code).unwrap_or_default();
        let of_category = TARGET_GROUP_CATEGORIES
            .iter()
            .any(|c| category == *c || category.strip_prefix(c).is_some_and(|rest| rest.starts_with('.')));
        let mut codes: Vec<&str> = TARGET_GROUP_CODES.to_vec();
        let mut names: Vec<&str> = TARGET_GROUP_NAMES.to_vec();
        if of_category {
            codes.extend(["Code", "Id"]);
            names.extend(["Name", "Value"]);
        }
        if of_category
            && raw
                .attribute(record, "IsNeeded")
                .is_some_and(|v| v.eq_ignore_ascii_case("false"))
        {
            continue;
        }
        let Some(code) = raw.first_of(record, &codes).map(str::trim).filter(|c| !c.is_empty()) else {
            continue;
        };
        let name = raw.first_of(record, &names).unwrap_or(code);
        if !groups.iter().any(|(c, _)| *c == code) {
            groups.push((code, name.trim()));
        }
    }
    groups
}

/// Whether the IPRA says the child needs early help: an `EarlyHelp…` attribute that is true, or a
/// record of category `MSE.IPRA.EARLYHELP` not marked `IsNeeded=false`.
fn early_help(raw: &RawDocument<'_>) -> bool {
    const FLAGS: [&str; 4] = ["EarlyHelp", "EarlyHelpNeeded", "NeedEarlyHelp", "IsEarlyHelpNeeded"];
    raw.records.iter().any(|record| {
        let flagged = raw
            .first_of(record, &FLAGS)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let of_category = value(&record.category_code).is_some_and(|c| c.starts_with("MSE.IPRA.EARLYHELP"));
        flagged
            || (of_category
                && !raw
                    .attribute(record, "IsNeeded")
                    .is_some_and(|v| v.eq_ignore_ascii_case("false")))
    })
}

fn push(extra: &mut Vec<Attribute>, code: &str, value: Option<&str>) {
    if let Some(value) = value {
        extra.push(Attribute {
            code: code.to_string(),
            value: value.to_string(),
        });
    }
}

/// Attributes of a measure record kept in its `extra`.
const MEASURE_EXTRA: [&str; 8] = [
    "EventTypeCode",
    "EventTypeName",
    "GroupTypeId",
    "GroupTypeName",
    "BudgetCode",
    "UnitName",
    "ToClass",
    "Indefinitely",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MeasureKind {
    Event,
    Tsr,
    Help,
    Recommendation,
}

impl MeasureKind {
    fn of(category: &str) -> Option<MeasureKind> {
        match category {
            "MSE.IPRA.REHAB" => Some(MeasureKind::Event),
            "MSE.IPRA.HELPITEM" => Some(MeasureKind::Help),
            "MSE.IPRA.PROF.RECOMMEND" => Some(MeasureKind::Recommendation),
            "MSE.IPRA.TSR.MSK" | "MSE.IPRA.TSR.LOCAL" => Some(MeasureKind::Tsr),
            c if c.starts_with("MSE.IPRA.TSR.") && c.ends_with(".ITEM") => Some(MeasureKind::Tsr),
            c if c.starts_with("MSE.IPRA.") && c.ends_with(".EVENT") => Some(MeasureKind::Event),
            _ => None,
        }
    }

    fn code(self) -> &'static [&'static str] {
        match self {
            // `Code`/`Name` last: a 2019-form `MSE.IPRA.REHAB` record of goods bought with maternity
            // capital names its item as a TSR item does (extract-20211124093406.xml).
            MeasureKind::Event => &[
                "EventSubtypeCode",
                "EventTypeCode",
                "GroupTypeId",
                "WorkplaceEquipmentCode",
                "Code",
            ],
            MeasureKind::Tsr => &["Code"],
            MeasureKind::Help => &["HelpId"],
            MeasureKind::Recommendation => &["WorkingConditionsCode", "Class"],
        }
    }

    fn name(self) -> &'static [&'static str] {
        match self {
            MeasureKind::Event => &[
                "EventSubtypeName",
                "EventTypeName",
                "GroupTypeName",
                "WorkplaceEquipmentName",
                "AdditionalText",
                "Name",
            ],
            MeasureKind::Tsr => &["Name", "ServiceName"],
            MeasureKind::Help => &["HelpValue"],
            MeasureKind::Recommendation => &["WorkingConditionsName", "Name"],
        }
    }

    fn guid(self) -> &'static [&'static str] {
        match self {
            MeasureKind::Event => &["EventGUID", "WPRecommendationGUID", "Id"],
            MeasureKind::Tsr => &["TSRGUID", "ServiceGUID", "Id"],
            MeasureKind::Help | MeasureKind::Recommendation => &["Id"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_of_address_parts_say_nothing() {
        for placeholder in ["-", "—", "нет", "НЕТ", "Нет", "string", "STRING"] {
            assert_eq!(meaningful(Some(placeholder)), None, "{placeholder}");
        }
        for part in ["Нетешино", "г. Казань", "ул. Нет", "strings", "-1"] {
            assert_eq!(meaningful(Some(part)), Some(part));
        }
        assert_eq!(meaningful(None), None);
    }

    #[test]
    fn a_record_is_named_with_its_document() {
        assert_eq!(RecordAt("Документ 2", 7).to_string(), "Документ 2, Запись 7");
    }
}
