//! Facts of assignment and their changes (correction, termination, invalidation) as the EGISSO data file
//! «10.06.S ИЗМЕНЕНИЯ РЕЕСТРА ФАКТОВ НАЗНАЧЕНИЯ МСЗ» version 1.1.0, every namespace at the version that root
//! imports; each fact checked before a byte is written.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{Attribute, Document, Fact, FactBatch, Person, PluginError};
use ipra_plugin_sdk::date::Date;
use ipra_plugin_sdk::xml::writer::escape_text;
use ipra_plugin_sdk::{snils, uuid};

/// The namespaces of 10.06.S 1.1.0 and of the types it imports (release 23.12.0).
const NS_MSG: &str = "urn://egisso-ru/msg/10.06.S/1.1.0";
const NS_PACKAGE: &str = "urn://egisso-ru/types/package-RAF/1.1.0";
const NS_FACT: &str = "urn://egisso-ru/types/assignment-fact/1.0.8";
const NS_PERSON: &str = "urn://egisso-ru/types/prsn-info/1.0.4";
const NS_BASIS: &str = "urn://egisso-ru/types/prsn-basis/1.0.2";
const NS_SMEV: &str = "urn://x-artefacts-smev-gov-ru/supplementary/commons/1.0.1";

/// `tPackage/elements/fact` allows at most this many facts in one package.
pub const MAX_FACTS_PER_PACKAGE: usize = 1000;
/// ОКЕИ 642 «единица»: the unit of a service counted in items when no unit is given.
const DEFAULT_OKEI: &str = "642";

/// What the region configures (host `config` keys in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsConfig {
    /// Offset of the region's time zone written after every date, `+03:00` (`timezone`).
    pub timezone: String,
    /// Code of the social-protection body (ОСЗ) that assigns, `NNNN.NNNNNN`, used when a fact has no
    /// `oszCode` (`osz-code`).
    pub osz_code: Option<String>,
}

fn config_error(key: &str, message: String) -> PluginError {
    PluginError {
        code: "config-invalid".into(),
        message,
        record: Some("Настройки коннектора ЕГИССО".into()),
        field: Some(key.into()),
    }
}

impl FactsConfig {
    /// Checks the values before any fact is written with them.
    pub fn validate(&self) -> Result<(), PluginError> {
        if !is_zone(&self.timezone) {
            return Err(config_error(
                "timezone",
                format!(
                    "Часовой пояс «{}» должен быть задан смещением вида +03:00",
                    self.timezone
                ),
            ));
        }
        if let Some(code) = &self.osz_code {
            if !is_participant_code(code) {
                return Err(config_error(
                    "osz-code",
                    format!("Код ОСЗ «{code}» должен иметь вид NNNN.NNNNNN"),
                ));
            }
        }
        Ok(())
    }
}

fn is_zone(zone: &str) -> bool {
    let b = zone.as_bytes();
    zone == "Z"
        || (b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && b[1..3].iter().all(u8::is_ascii_digit)
            && b[3] == b':'
            && b[4..].iter().all(u8::is_ascii_digit)
            && zone[1..3].parse::<u8>().is_ok_and(|h| h <= 14)
            && zone[4..].parse::<u8>().is_ok_and(|m| m < 60))
}

/// `egisso:tParticipantCode`: `[A-HJ-NP-Z0-9]{4}\.\d{6}`.
fn is_participant_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 11
        && b[..4]
            .iter()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && *c != b'I' && *c != b'O'))
        && b[4] == b'.'
        && b[5..].iter().all(u8::is_ascii_digit)
}

/// `egisso:UUID`.
fn is_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `smev:rus`: Cyrillic letters, digits, dash first; then Cyrillic letters, dash, white space, `'`, `,`, `.`.
fn is_russian_name(text: &str) -> bool {
    let cyrillic = |c: char| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё');
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if cyrillic(c) || c == '-' || c.is_ascii_digit() => {}
        _ => return false,
    }
    text.chars().count() <= 100
        && chars.all(|c| cyrillic(c) || matches!(c, '-' | ' ' | '\t' | '\n' | '\r' | '\'' | ',' | '.'))
}

/// `xsd:decimal` as people type it (a comma is accepted as the separator), in its canonical form.
fn decimal(text: &str) -> Option<String> {
    let text = text.trim().replace(',', ".");
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match text.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(&text),
    };
    ok.then_some(text)
}

/// `egisso:tMoney`: digits, a separator, exactly two decimals.
fn money(text: &str) -> Option<String> {
    let value = decimal(text)?;
    let (whole, fraction) = value.split_once('.').unwrap_or((&value, ""));
    match fraction.len() {
        0 => Some(format!("{whole}.00")),
        1 => Some(format!("{whole}.{fraction}0")),
        2 => Some(value.clone()),
        _ => None,
    }
}

fn element(out: &mut String, prefix: &str, name: &str, value: &str) {
    out.push_str(&format!("<{prefix}:{name}>{}</{prefix}:{name}>", escape_text(value)));
}

fn get<'a>(extra: &'a [Attribute], code: &str) -> Option<&'a str> {
    extra
        .iter()
        .find(|a| a.code == code)
        .map(|a| a.value.trim())
        .filter(|v| !v.is_empty())
}

/// Errors of one fact, each naming the fact and the field.
struct Check<'a> {
    fact_id: &'a str,
}

impl Check<'_> {
    fn error(&self, code: &str, field: &str, message: String) -> PluginError {
        PluginError {
            code: code.into(),
            message: format!("Факт {}: {message}", self.fact_id),
            record: Some(self.fact_id.to_string()),
            field: Some(field.into()),
        }
    }

    fn required<'e>(&self, extra: &'e [Attribute], field: &str, what: &str) -> Result<&'e str, PluginError> {
        get(extra, field).ok_or_else(|| self.error("missing-field", field, format!("не указан {what} ({field})")))
    }

    fn uuid(&self, value: &str, field: &str) -> Result<(), PluginError> {
        if is_uuid(value) {
            Ok(())
        } else {
            Err(self.error(
                "uuid-invalid",
                field,
                format!("значение «{value}» поля {field} не является UUID"),
            ))
        }
    }

    fn date(&self, value: &str, field: &str) -> Result<Date, PluginError> {
        Date::parse(value).map_err(|e| self.error("date-invalid", field, format!("поле {field}: {e}")))
    }
}

/// A person as `prsn:tPersonInfo`, validated.
struct PersonInfo {
    snils: String,
    surname: String,
    given_name: String,
    patronymic: Option<String>,
    gender: &'static str,
    birth_date: Date,
}

/// The parts of a person another record describes: the fact's person, or its representative.
struct PersonFields<'a> {
    snils: &'a str,
    surname: &'a str,
    given_name: &'a str,
    patronymic: Option<&'a str>,
    gender: Option<&'a str>,
    birth_date: Option<&'a str>,
    /// Field names for errors, in the order SNILS, surname, given name, patronymic, gender, birth date.
    fields: [&'a str; 6],
}

impl Check<'_> {
    fn person(&self, p: &PersonFields) -> Result<PersonInfo, PluginError> {
        let [snils_field, surname_field, given_field, patronymic_field, gender_field, birth_field] = p.fields;
        let snils =
            snils::validate(p.snils).map_err(|e| self.error(e.code(), snils_field, format!("«{}»: {e}", p.snils)))?;
        let name = |value: &str, field: &str| -> Result<String, PluginError> {
            let value = value.trim();
            if is_russian_name(value) {
                Ok(value.to_string())
            } else {
                Err(self.error(
                    "name-invalid",
                    field,
                    format!("«{value}» ({field}): ЕГИССО принимает ФИО только русскими буквами, до 100 знаков"),
                ))
            }
        };
        let surname = name(p.surname, surname_field)?;
        let given_name = name(p.given_name, given_field)?;
        let patronymic = match p.patronymic.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => Some(name(v, patronymic_field)?),
            None => None,
        };
        let gender = match p.gender.map(str::trim) {
            Some("M" | "М" | "Male" | "m" | "м") => "Male",
            Some("F" | "Ж" | "Female" | "f" | "ж") => "Female",
            Some(other) => {
                return Err(self.error(
                    "gender-invalid",
                    gender_field,
                    format!("пол «{other}» не распознан (ожидается M или F)"),
                ))
            }
            None => return Err(self.error("missing-field", gender_field, "не указан пол получателя".into())),
        };
        let birth = p
            .birth_date
            .ok_or_else(|| self.error("missing-field", birth_field, "не указана дата рождения".into()))?;
        let birth_date = self.date(birth, birth_field)?;
        Ok(PersonInfo {
            snils,
            surname,
            given_name,
            patronymic,
            gender,
            birth_date,
        })
    }
}

fn person_fields(person: &Person) -> PersonFields<'_> {
    PersonFields {
        snils: &person.snils,
        surname: &person.surname,
        given_name: &person.given_name,
        patronymic: person.patronymic.as_deref(),
        gender: person.gender.as_deref(),
        birth_date: person.birth_date.as_deref(),
        fields: ["SNILS", "FamilyName", "FirstName", "Patronymic", "Gender", "BirthDate"],
    }
}

/// How the measure is given (`assignmentInfo`), from `extra`.
enum Form {
    Monetary {
        amount: String,
    },
    /// `naturalForm`, `exemptionForm` or `serviceForm`: a quantity in a unit and its cost.
    InKind {
        element: &'static str,
        amount: String,
        unit: Unit,
        content: Option<String>,
        monetization: Option<bool>,
        comment: Option<String>,
        equivalent: String,
    },
}

enum Unit {
    Measury(String),
    Okei(String),
}

/// The content of a fact of assignment (`af:tFactAssignment`), checked and ready to write.
struct FactData {
    osz_code: String,
    receiver: PersonInfo,
    basis: Option<(PersonInfo, Option<String>)>,
    lmsz_id: String,
    lmsz_provider: Option<String>,
    category_id: String,
    decision: Date,
    start: Date,
    finish: Option<Date>,
    needs: (bool, Vec<String>),
    form: Form,
}

/// At most `limit` characters: EGISSO's free texts are bounded and the measure name is a courtesy.
fn clip(text: &str, limit: usize) -> String {
    text.trim().chars().take(limit).collect()
}

/// What one fact of a batch becomes in the package: a new fact or a change of one EGISSO holds.
enum Element {
    /// `fact`: a new fact of assignment with its `uuid`.
    New { uuid: String, data: Box<FactData> },
    /// `alterationBasedOnPreviousErrors`: the whole fact again, corrected.
    Correction {
        event: String,
        fact_uuid: String,
        data: Box<FactData>,
    },
    /// `terminationBasedOnEndOfRight`: the right ended (the recipient died) on `date`.
    Termination {
        event: String,
        fact_uuid: String,
        date: Date,
    },
    /// `errorsInvalidation`: the fact was uploaded in error and is to be deleted.
    Invalidation { event: String, fact_uuid: String },
}

impl Element {
    /// The place of the element in `tPackage/elements` (a sequence: every `fact` first, then the
    /// alterations, the terminations, the invalidations).
    fn order(&self) -> u8 {
        match self {
            Element::New { .. } => 0,
            Element::Correction { .. } => 1,
            Element::Termination { .. } => 2,
            Element::Invalidation { .. } => 3,
        }
    }
}

/// `extra` `operation` of a fact: what the package does with it.
const OPERATIONS: [&str; 4] = ["fact", "correction", "termination", "invalidation"];

fn check(fact: &Fact, config: &FactsConfig) -> Result<Element, PluginError> {
    let c = Check { fact_id: &fact.fact_id };
    let extra = &fact.extra;
    let operation = get(extra, "operation").unwrap_or("fact");
    if !OPERATIONS.contains(&operation) {
        return Err(c.error(
            "value-invalid",
            "operation",
            format!("действие «{operation}» не известно (fact, correction, termination, invalidation)"),
        ));
    }
    let fact_uuid = match get(extra, "uuid") {
        Some(u) => {
            c.uuid(u, "uuid")?;
            u.to_lowercase()
        }
        None if operation == "fact" => uuid::v5(&format!("urn:ipra:egisso:fact:{}", fact.fact_id)),
        None => {
            return Err(c.error(
                "missing-field",
                "uuid",
                "не указан идентификатор изменяемого факта (uuid)".into(),
            ))
        }
    };
    let event = match operation {
        "fact" => String::new(),
        _ => {
            let event = c.required(extra, "eventUuid", "идентификатор события изменения (eventUuid)")?;
            c.uuid(event, "eventUuid")?;
            if event.eq_ignore_ascii_case(&fact_uuid) {
                return Err(c.error(
                    "value-invalid",
                    "eventUuid",
                    "идентификатор события совпадает с идентификатором факта".into(),
                ));
            }
            event.to_lowercase()
        }
    };
    match operation {
        "termination" => {
            let raw = fact
                .end_date
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .ok_or_else(|| c.error("missing-field", "dateFinish", "не указана дата прекращения".into()))?;
            let date = c.date(raw, "dateFinish")?;
            return Ok(Element::Termination { event, fact_uuid, date });
        }
        "invalidation" => return Ok(Element::Invalidation { event, fact_uuid }),
        _ => {}
    }
    let data = Box::new(check_data(&c, fact, config)?);
    Ok(match operation {
        "correction" => Element::Correction { event, fact_uuid, data },
        _ => Element::New { uuid: fact_uuid, data },
    })
}

/// The content of a new or corrected fact, every element checked.
fn check_data(c: &Check, fact: &Fact, config: &FactsConfig) -> Result<FactData, PluginError> {
    let extra = &fact.extra;

    let osz_code = get(extra, "oszCode")
        .or(config.osz_code.as_deref())
        .ok_or_else(|| c.error("missing-field", "oszCode", "не указан код ОСЗ (oszCode)".into()))?;
    if !is_participant_code(osz_code) {
        return Err(c.error(
            "code-invalid",
            "oszCode",
            format!("код ОСЗ «{osz_code}» должен иметь вид NNNN.NNNNNN"),
        ));
    }
    let lmsz_id = c.required(extra, "lmszId", "идентификатор меры социальной защиты ЛМСЗ")?;
    c.uuid(lmsz_id, "lmszId")?;
    let lmsz_provider = get(extra, "lmszProviderCode");
    if let Some(code) = lmsz_provider {
        if !is_participant_code(code) {
            return Err(c.error(
                "code-invalid",
                "lmszProviderCode",
                format!("код поставщика ЛМСЗ «{code}» должен иметь вид NNNN.NNNNNN"),
            ));
        }
    }
    let category_id = c.required(extra, "categoryId", "идентификатор категории получателей")?;
    c.uuid(category_id, "categoryId")?;

    let decision = c.date(&fact.decision_date, "decisionDate")?;
    let start = match fact.start_date.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => c.date(s, "dateStart")?,
        None => decision,
    };
    let finish = match fact.end_date.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => Some(c.date(s, "dateFinish")?),
        None => None,
    };
    if let Some(finish) = finish {
        if finish < start {
            return Err(c.error(
                "date-order",
                "dateFinish",
                format!("дата окончания {finish} раньше даты начала {start}"),
            ));
        }
    }

    let person = c.person(&person_fields(&fact.person))?;
    // A child's measure may be received by a parent or guardian: the child is then the basis person.
    let (receiver, basis) = match get(extra, "representativeSnils") {
        Some(rep_snils) => {
            let representative = c.person(&PersonFields {
                snils: rep_snils,
                surname: get(extra, "representativeSurname").unwrap_or_default(),
                given_name: get(extra, "representativeGivenName").unwrap_or_default(),
                patronymic: get(extra, "representativePatronymic"),
                gender: get(extra, "representativeGender"),
                birth_date: get(extra, "representativeBirthDate"),
                fields: [
                    "representativeSnils",
                    "representativeSurname",
                    "representativeGivenName",
                    "representativePatronymic",
                    "representativeGender",
                    "representativeBirthDate",
                ],
            })?;
            let kinship = get(extra, "kinshipTypeCode");
            if let Some(code) = kinship {
                if code.len() != 7 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(c.error(
                        "code-invalid",
                        "kinshipTypeCode",
                        format!("код родственной связи «{code}» должен состоять из 7 цифр"),
                    ));
                }
            }
            (representative, Some((person, kinship.map(str::to_string))))
        }
        None => (person, None),
    };

    let needs_sign = match get(extra, "needsCriteria") {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(c.error(
                "value-invalid",
                "needsCriteria",
                format!("признак критериев нуждаемости «{other}» должен быть true или false"),
            ))
        }
    };
    let mut needs_codes = Vec::new();
    for code in get(extra, "needsCriteriaCodes").unwrap_or_default().split(',') {
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        if code.len() > 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(c.error(
                "code-invalid",
                "needsCriteriaCodes",
                format!("код критерия нуждаемости «{code}» должен состоять из 1–10 цифр"),
            ));
        }
        needs_codes.push(code.to_string());
    }

    let number = |field: &str, default: Option<&str>| -> Result<String, PluginError> {
        let raw = get(extra, field)
            .or(default)
            .ok_or_else(|| c.error("missing-field", field, format!("не указано значение {field}")))?;
        decimal(raw).ok_or_else(|| c.error("amount-invalid", field, format!("«{raw}» не является числом ({field})")))
    };
    let form = match get(extra, "form").unwrap_or("service") {
        "monetary" => {
            let raw = c.required(extra, "amount", "размер выплаты")?;
            let amount = money(raw).ok_or_else(|| {
                c.error(
                    "amount-invalid",
                    "amount",
                    format!("сумма «{raw}» должна быть числом с двумя знаками после запятой"),
                )
            })?;
            Form::Monetary { amount }
        }
        form @ ("natural" | "exemption" | "service") => {
            let unit = match (get(extra, "measuryCode"), get(extra, "okeiCode")) {
                (Some(code), _) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) => {
                    Unit::Measury(code.to_string())
                }
                (Some(code), _) => {
                    return Err(c.error(
                        "code-invalid",
                        "measuryCode",
                        format!("код единицы измерения ЕГИССО «{code}» должен состоять из 2 цифр"),
                    ))
                }
                (None, code) => {
                    let code = code.unwrap_or(DEFAULT_OKEI);
                    if !(3..=4).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(c.error(
                            "code-invalid",
                            "okeiCode",
                            format!("код ОКЕИ «{code}» должен состоять из 3 или 4 цифр"),
                        ));
                    }
                    Unit::Okei(code.to_string())
                }
            };
            let monetization = match (form, get(extra, "monetization")) {
                ("exemption", None | Some("false" | "0")) => Some(false),
                ("exemption", Some("true" | "1")) => Some(true),
                ("exemption", Some(other)) => {
                    return Err(c.error(
                        "value-invalid",
                        "monetization",
                        format!("признак монетизации «{other}» должен быть true или false"),
                    ))
                }
                _ => None,
            };
            Form::InKind {
                element: match form {
                    "natural" => "naturalForm",
                    "exemption" => "exemptionForm",
                    _ => "serviceForm",
                },
                amount: number("amount", Some("1"))?,
                unit,
                content: (form != "exemption")
                    .then(|| {
                        get(extra, "content")
                            .or(get(extra, "measureName"))
                            .map(|t| clip(t, 200))
                    })
                    .flatten(),
                monetization,
                comment: get(extra, "comment").map(|t| clip(t, 200)),
                equivalent: number("equivalentAmount", Some("0"))?,
            }
        }
        other => {
            return Err(c.error(
                "value-invalid",
                "form",
                format!("форма предоставления «{other}» не известна (monetary, natural, exemption, service)"),
            ))
        }
    };

    Ok(FactData {
        osz_code: osz_code.to_string(),
        receiver,
        basis,
        lmsz_id: lmsz_id.to_lowercase(),
        lmsz_provider: lmsz_provider.map(str::to_string),
        category_id: category_id.to_lowercase(),
        decision,
        start,
        finish,
        needs: (needs_sign, needs_codes),
        form,
    })
}

fn write_person(out: &mut String, p: &PersonInfo, zone: &str) {
    element(out, "prsn", "SNILS", &p.snils);
    element(out, "smev", "FamilyName", &p.surname);
    element(out, "smev", "FirstName", &p.given_name);
    if let Some(patronymic) = &p.patronymic {
        element(out, "smev", "Patronymic", patronymic);
    }
    element(out, "prsn", "Gender", p.gender);
    element(out, "prsn", "BirthDate", &format!("{}{zone}", p.birth_date));
}

/// The elements of `af:tFactAssignment` (inside `fact`, or the `fact` of a correction).
fn write_fact_body(out: &mut String, f: &FactData, zone: &str) {
    let date = |d: &Date| format!("{d}{zone}");
    out.push_str("        ");
    element(out, "af", "oszCode", &f.osz_code);
    out.push_str("\n        <af:mszReceiver>");
    write_person(out, &f.receiver, zone);
    out.push_str("</af:mszReceiver>\n");
    if let Some((person, kinship)) = &f.basis {
        out.push_str("        <af:reasonPersons><basis:basisPerson><prsn:prsnInfo>");
        write_person(out, person, zone);
        out.push_str("</prsn:prsnInfo>");
        if let Some(kinship) = kinship {
            element(out, "basis", "kinshipTypeCode", kinship);
        }
        out.push_str("</basis:basisPerson></af:reasonPersons>\n");
    }
    out.push_str("        ");
    element(out, "af", "lmszId", &f.lmsz_id);
    if let Some(provider) = &f.lmsz_provider {
        element(out, "af", "lmszProviderCode", provider);
    }
    element(out, "af", "categoryId", &f.category_id);
    out.push_str("\n        ");
    element(out, "af", "decisionDate", &date(&f.decision));
    element(out, "af", "dateStart", &date(&f.start));
    if let Some(finish) = &f.finish {
        element(out, "af", "dateFinish", &date(finish));
    }
    out.push_str("\n        <af:needsCriteria>");
    element(out, "af", "usingSign", if f.needs.0 { "true" } else { "false" });
    for code in &f.needs.1 {
        out.push_str("<af:needsCriteria>");
        element(out, "af", "needsCriteriaCode", code);
        out.push_str("</af:needsCriteria>");
    }
    out.push_str("</af:needsCriteria>\n        <af:assignmentInfo>");
    match &f.form {
        Form::Monetary { amount } => {
            out.push_str("<af:monetaryForm>");
            element(out, "af", "amount", amount);
            out.push_str("</af:monetaryForm>");
        }
        Form::InKind {
            element: name,
            amount,
            unit,
            content,
            monetization,
            comment,
            equivalent,
        } => {
            out.push_str(&format!("<af:{name}>"));
            element(out, "af", "amount", amount);
            match unit {
                Unit::Measury(code) => element(out, "af", "measuryCode", code),
                // The service form spells the element `OKEICode`, the others `okeiCode`.
                Unit::Okei(code) if *name == "serviceForm" => element(out, "af", "OKEICode", code),
                Unit::Okei(code) => element(out, "af", "okeiCode", code),
            }
            if let Some(content) = content {
                element(out, "af", "content", content);
            }
            if let Some(monetization) = monetization {
                element(out, "af", "monetization", if *monetization { "true" } else { "false" });
            }
            if let Some(comment) = comment {
                element(out, "af", "comment", comment);
            }
            element(out, "af", "equivalentAmount", equivalent);
            out.push_str(&format!("</af:{name}>"));
        }
    }
    out.push_str("</af:assignmentInfo>\n");
}

/// `uuid` and `assignmentFactUuid` of `tFactModification`: the event and the fact it changes.
fn write_modification(out: &mut String, event: &str, fact_uuid: &str) {
    out.push_str("        ");
    element(out, "pac", "uuid", event);
    element(out, "pac", "assignmentFactUuid", fact_uuid);
    out.push('\n');
}

fn write_element(out: &mut String, e: &Element, zone: &str) {
    match e {
        Element::New { uuid, data } => {
            out.push_str("      <pac:fact>\n");
            write_fact_body(out, data, zone);
            out.push_str("        ");
            element(out, "pac", "uuid", uuid);
            out.push_str("\n      </pac:fact>\n");
        }
        Element::Correction { event, fact_uuid, data } => {
            out.push_str("      <pac:alterationBasedOnPreviousErrors>\n");
            write_modification(out, event, fact_uuid);
            out.push_str("        <pac:fact>\n");
            write_fact_body(out, data, zone);
            out.push_str("        </pac:fact>\n      </pac:alterationBasedOnPreviousErrors>\n");
        }
        Element::Termination { event, fact_uuid, date } => {
            out.push_str("      <pac:terminationBasedOnEndOfRight>\n");
            write_modification(out, event, fact_uuid);
            out.push_str("        ");
            element(out, "pac", "dateFinish", &format!("{date}{zone}"));
            out.push_str("\n      </pac:terminationBasedOnEndOfRight>\n");
        }
        Element::Invalidation { event, fact_uuid } => {
            out.push_str("      <pac:errorsInvalidation>\n");
            write_modification(out, event, fact_uuid);
            out.push_str("      </pac:errorsInvalidation>\n");
        }
    }
}

/// The name of the data file of a package, by which EGISSO's answers on it are matched back.
pub fn document_name(package_id: &str) -> String {
    format!("egisso-10.06.S-{}.xml", package_id.to_lowercase())
}

fn package_document(package_id: &str, elements: &[&Element], zone: &str) -> Document {
    let mut out = String::with_capacity(2048 * elements.len() + 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<msg:data xmlns:msg=\"{NS_MSG}\" xmlns:pac=\"{NS_PACKAGE}\" xmlns:af=\"{NS_FACT}\" xmlns:prsn=\"{NS_PERSON}\" \
         xmlns:basis=\"{NS_BASIS}\" xmlns:smev=\"{NS_SMEV}\">\n  <pac:package>\n    "
    ));
    element(&mut out, "pac", "packageId", package_id);
    out.push_str("\n    <pac:elements>\n");
    for e in elements {
        write_element(&mut out, e, zone);
    }
    out.push_str("    </pac:elements>\n  </pac:package>\n</msg:data>\n");
    Document {
        name: document_name(package_id),
        media_type: "application/xml".into(),
        bytes: out.into_bytes(),
    }
}

/// `export(facts)`: one 10.06.S 1.1.0 data file per 1000 facts — new facts, corrections, terminations and
/// invalidations (`extra` `operation`), each kind in the place the schema's sequence gives it. The batch is all
/// or nothing, because the host records every fact of the batch in the package once documents come back: the
/// first invalid fact fails the call, its id in `record` and the field in `field`, and the message counts (and
/// names) the other invalid facts; the host leaves it out and asks again.
pub fn export_facts(batch: &FactBatch, config: &FactsConfig) -> Result<Vec<Document>, PluginError> {
    config.validate()?;
    let mut checked = Vec::with_capacity(batch.facts.len());
    let mut errors = Vec::new();
    for fact in &batch.facts {
        match check(fact, config) {
            Ok(c) => checked.push(c),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        let mut first = errors.remove(0);
        if !errors.is_empty() {
            let others: Vec<&str> = errors.iter().filter_map(|e| e.record.as_deref()).take(10).collect();
            first.message = format!(
                "{}; ещё фактов с ошибками: {} ({}{})",
                first.message,
                errors.len(),
                others.join(", "),
                if errors.len() > others.len() { ", …" } else { "" }
            );
        }
        return Err(first);
    }
    let chunks = checked.chunks(MAX_FACTS_PER_PACKAGE);
    let count = chunks.len();
    Ok(chunks
        .enumerate()
        .map(|(n, elements)| {
            // The schema's sequence: every new fact first, then the alterations, terminations and
            // invalidations (a stable sort keeps the batch's order within each).
            let mut elements: Vec<&Element> = elements.iter().collect();
            elements.sort_by_key(|e| e.order());
            // Re-sending a batch gives the same package ids; EGISSO's own ids are UUIDs.
            let package_id = if count == 1 && is_uuid(&batch.package_id) {
                batch.package_id.to_lowercase()
            } else if n == 0 {
                uuid::v5(&format!("urn:ipra:egisso:package:{}", batch.package_id))
            } else {
                uuid::v5(&format!("urn:ipra:egisso:package:{}:{n}", batch.package_id))
            };
            package_document(&package_id, &elements, &config.timezone)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_checks() {
        assert!(is_participant_code("0040.000001"));
        assert!(!is_participant_code("0I40.000001"));
        assert!(is_uuid("c3cbbd4c-3cca-486e-912c-9971d100ef3e"));
        assert!(!is_uuid("c3cbbd4c3cca486e912c9971d100ef3e"));
        assert!(is_russian_name("Салтыков-Щедрин"));
        assert!(is_russian_name("Д'Артаньян"));
        assert!(!is_russian_name("Smith"));
        assert!(!is_russian_name(" Иван"));
        assert_eq!(money("14506").as_deref(), Some("14506.00"));
        assert_eq!(money("14506,5").as_deref(), Some("14506.50"));
        assert_eq!(money("1.234"), None);
        assert_eq!(decimal("2,5").as_deref(), Some("2.5"));
        assert_eq!(decimal("2."), None);
        assert_eq!(decimal("-1"), None);
        assert!(is_zone("+03:00") && is_zone("Z") && !is_zone("+3") && !is_zone("+25:00"));
    }
}
