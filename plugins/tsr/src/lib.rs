//! Department plugin «Обеспечение ТСР»: claims the IPRA's TSR items, validates their execution, renders its report
//! section, and builds the TSR clarification request to the MSE institution (порядок ФБ МСЭ для ИС МСЭ в ЕЦП, ПП РФ № 2121, п. 4(1)).
//!
//! Claims, validation and the report section are the SDK's [`department`](ipra_plugin_sdk::department). What is
//! particular here: an execution entry whose `extra` has `action=tsr-clarification` is not an execution row but a
//! request to clarify that TSR item (type, name or parameters do not match the list of indications). Its attributes:
//! `consent=true|false` (the citizen's or representative's consent; required and must be `true`), `reason=…` (what
//! to clarify; required) and `received=YYYY-MM-DD` (when the IPRA data reached the authorised body; required). The
//! entry's `measure-key` names the TSR item and its `executor-ogrn` the authorised body sending the request.
//!
//! When every clarification entry is valid, `execute` returns one follow-up `kind = "tsr-clarification"` with
//! `due-date` = the `clarification-days`-th (config, 2 by default) working day after the earliest `received`, by
//! the host's `working-calendar` list (weekends are non-working unless listed as `workday`, listed `holiday`s are
//! non-working). Its attributes: `ipra-number`, `ipra-document-id`, `snils`, `sender-ogrn`, `received`,
//! `consent`, `items` (count), per item *i* (from 1) `item.<i>.key`, `item.<i>.code`, `item.<i>.name`,
//! `item.<i>.reason`; and `overdue=true` when the due date is already before today.
//!
//! # The request document `tsr-clarification-<IPRA document id>.xml` (namespace `urn:ipra:tsr-clarification:1.0`)
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <TsrClarificationRequest xmlns="urn:ipra:tsr-clarification:1.0" version="1.0">
//!   <Created>YYYY-MM-DD</Created>             <!-- today, as the host passed it -->
//!   <Sender><Ogrn>…</Ogrn><Name>…</Name></Sender>   <!-- the authorised body, from the directory -->
//!   <Ipra>
//!     <ExtractId>…</ExtractId> <DocumentId>…</DocumentId> <Number>…</Number>
//!     <ProtocolNumber>…</ProtocolNumber> <ProtocolDate>…</ProtocolDate>
//!     <DecisionDate>…</DecisionDate>?  <IssuedBy>…</IssuedBy>?   <!-- the MSE institution to address -->
//!   </Ipra>
//!   <Person>
//!     <Snils>…</Snils> <Surname>…</Surname> <GivenName>…</GivenName> <Patronymic>…</Patronymic>?
//!     <BirthDate>…</BirthDate>?
//!   </Person>
//!   <Received>YYYY-MM-DD</Received>  <DueDate>YYYY-MM-DD</DueDate>
//!   <Items>
//!     <Item key="measure key">
//!       <Code>classifier code, e.g. 7-02-01</Code>?  <Name>…</Name>  <Quantity>…</Quantity>?
//!       <Reason>what does not match the indications</Reason>
//!     </Item>
//!   </Items>
//!   <Consent given="true"/>          <!-- the request is never built without consent -->
//! </TsrClarificationRequest>
//! ```

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    ConfigKey, Document, ExecuteInput, ExecuteOutput, ExecutionEntry, ExecutionInput, FollowUp, Measure, PluginError,
};
use ipra_plugin_sdk::department::{
    add_working_days, attr, attribute, check_executor, entry_record, field, file_name_part, is_date, Department,
    Lookups, XmlWriter, WORKING_CALENDAR,
};

/// This department: section `tsr`.
pub const DEPARTMENT: Department = Department {
    id: "tsr",
    section: "tsr",
    label: "Обеспечение ТСР",
};

/// Namespace of the clarification request document.
pub const CLARIFICATION_NAMESPACE: &str = "urn:ipra:tsr-clarification:1.0";

/// The `action` attribute value that makes an entry a clarification request.
pub const CLARIFICATION_ACTION: &str = "tsr-clarification";

/// Config key: working days the request must be sent in.
pub const DAYS_KEY: &str = "clarification-days";

/// The legal term when the config does not set one (ПП РФ от 23.11.2022 № 2121, п. 4(1)).
const DEFAULT_DAYS: u32 = 2;

const CONSENT_FIELD: &str = "Согласие гражданина";
const REASON_FIELD: &str = "Причина уточнения";
const RECEIVED_FIELD: &str = "Дата получения ИПРА";

ipra_plugin_sdk::department_plugin!(
    /// The plugin exported to the host.
    Plugin = DEPARTMENT, {
        fn config_keys() -> Vec<ConfigKey> {
            vec![ConfigKey {
                name: DAYS_KEY.to_string(),
                description: "Срок направления запроса на уточнение ТСР, рабочих дней со дня получения ИПРА".to_string(),
                required: false,
                default_value: Some(DEFAULT_DAYS.to_string()),
            }]
        }

        fn execute(input: ExecuteInput, lookups: &dyn Lookups) -> Result<ExecuteOutput, PluginError> {
            execute(input, lookups)
        }
    }
);

fn is_clarification(entry: &ExecutionEntry) -> bool {
    attribute(&entry.extra, "action").map(str::trim) == Some(CLARIFICATION_ACTION)
}

/// Hook `execute`: ordinary rows are validated by the department; clarification rows become the request.
pub fn execute(input: ExecuteInput, lookups: &dyn Lookups) -> Result<ExecuteOutput, PluginError> {
    let ExecuteInput::Execution(execution) = input else {
        return DEPARTMENT.execute(input, lookups);
    };
    let mut errors = DEPARTMENT.validate_where(&execution, lookups, &|e| !is_clarification(e));
    let (request, request_errors) = clarification(&execution, lookups);
    errors.extend(request_errors);
    let follow_ups = match request {
        Some(request) if errors.is_empty() => vec![request],
        _ => Vec::new(),
    };
    Ok(ExecuteOutput { errors, follow_ups })
}

/// One valid clarification row: the TSR item and why it must be clarified.
struct Item<'a> {
    measure: &'a Measure,
    reason: String,
}

/// Checks the clarification rows of an execution and builds the request from them. Returns no request when
/// there are no such rows or any of them is invalid (then the errors say why).
pub fn clarification(execution: &ExecutionInput, lookups: &dyn Lookups) -> (Option<FollowUp>, Vec<PluginError>) {
    let ipra = &execution.ipra;
    let mut errors = Vec::new();
    let mut items = Vec::new();
    let mut sender = None;
    let mut received: Option<String> = None;
    for (index, entry) in execution.entries.iter().enumerate() {
        if !is_clarification(entry) {
            continue;
        }
        let record = entry_record(index + 1, entry);
        let mut error = |code: &str, field: &str, message: String| {
            errors.push(PluginError {
                code: code.to_string(),
                message,
                record: Some(record.clone()),
                field: Some(field.to_string()),
            })
        };
        if entry.section != DEPARTMENT.section {
            error(
                "section-mismatch",
                field::SECTION,
                format!(
                    "Запрос на уточнение ТСР относится только к разделу «{}», а не к разделу «{}»",
                    DEPARTMENT.label, entry.section
                ),
            );
            continue;
        }
        match attribute(&entry.extra, "consent").map(str::trim) {
            Some("true") => {}
            Some("false") => error(
                "consent-refused",
                CONSENT_FIELD,
                "Гражданин (его представитель) не дал согласия: без согласия запрос на уточнение ТСР не направляется".to_string(),
            ),
            None | Some("") => error(
                "consent-missing",
                CONSENT_FIELD,
                "Отметьте согласие гражданина или его представителя на запрос уточнения ТСР: без него запрос не направляется".to_string(),
            ),
            Some(other) => error(
                "consent-format",
                CONSENT_FIELD,
                format!("Согласие «{other}» не распознано: ожидается true или false"),
            ),
        }
        let reason = attribute(&entry.extra, "reason").map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            error(
                "missing-field",
                REASON_FIELD,
                "Укажите, что в виде, наименовании или параметрах ТСР не соответствует показаниям".to_string(),
            );
        }
        match attribute(&entry.extra, "received").map(str::trim) {
            None | Some("") => error(
                "missing-field",
                RECEIVED_FIELD,
                "Укажите дату получения сведений ИПРА: от неё считается срок запроса".to_string(),
            ),
            Some(date) if !is_date(date) => error(
                "date-format",
                RECEIVED_FIELD,
                format!("Дата «{date}» не распознана: укажите её в виде ГГГГ-ММ-ДД"),
            ),
            Some(date) if is_date(&execution.today) && date > execution.today.trim() => error(
                "date-in-future",
                RECEIVED_FIELD,
                format!("Дата получения {date} позже сегодняшней ({})", execution.today.trim()),
            ),
            Some(date) => {
                // ISO dates compare as text; the term runs from the earliest receipt.
                if received.as_deref().is_none_or(|r| date < r) {
                    received = Some(date.to_string());
                }
            }
        }
        match check_executor(&entry.executor_ogrn, lookups) {
            Ok(org) => {
                let name = entry
                    .executor_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or(org.name);
                sender.get_or_insert((org.ogrn, name));
            }
            Err(e) => error(&e.code, field::EXECUTOR_OGRN, e.message),
        }
        let measure = match entry.measure_key.as_deref() {
            None => {
                error(
                    "missing-field",
                    field::MEASURE,
                    "Выберите ТСР из ИПРА, которое нужно уточнить".to_string(),
                );
                None
            }
            Some(key) => {
                let found = DEPARTMENT.measures(ipra).find(|m| m.key == key);
                if found.is_none() {
                    error(
                        "measure-unknown",
                        field::MEASURE,
                        format!("В ИПРА № {} нет ТСР «{key}»", ipra.number),
                    );
                }
                found
            }
        };
        if let Some(measure) = measure {
            items.push(Item {
                measure,
                reason: reason.to_string(),
            });
        }
    }
    if !errors.is_empty() || items.is_empty() {
        return (None, errors);
    }
    let (Some((sender_ogrn, sender_name)), Some(received)) = (sender, received) else {
        return (None, errors);
    };
    let days = lookups
        .config(DAYS_KEY)
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or(DEFAULT_DAYS);
    let calendar = lookups.reference_list(WORKING_CALENDAR);
    let Some(due) = add_working_days(&received, days, &calendar) else {
        return (None, errors);
    };
    let today = execution.today.trim();

    let person = &ipra.person;
    let mut attributes = vec![
        attr("ipra-number", &ipra.number),
        attr("ipra-document-id", &ipra.document_id),
        attr("snils", &person.snils),
        attr("sender-ogrn", &sender_ogrn),
        attr("received", &received),
        attr("consent", "true"),
        attr("items", &items.len().to_string()),
    ];
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("item.{}", i + 1);
        attributes.push(attr(&format!("{prefix}.key"), &item.measure.key));
        if let Some(code) = item.measure.code.as_deref() {
            attributes.push(attr(&format!("{prefix}.code"), code));
        }
        attributes.push(attr(&format!("{prefix}.name"), &item.measure.name));
        attributes.push(attr(&format!("{prefix}.reason"), &item.reason));
    }
    if is_date(today) && due.as_str() < today {
        attributes.push(attr("overdue", "true"));
    }

    let mut xml = XmlWriter::new();
    xml.open(
        "TsrClarificationRequest",
        &[("xmlns", CLARIFICATION_NAMESPACE), ("version", "1.0")],
    );
    xml.leaf("Created", today);
    xml.open("Sender", &[]);
    xml.leaf("Ogrn", &sender_ogrn);
    xml.leaf_opt("Name", Some(&sender_name));
    xml.close("Sender");
    xml.open("Ipra", &[]);
    xml.leaf("ExtractId", &ipra.extract_id);
    xml.leaf("DocumentId", &ipra.document_id);
    xml.leaf("Number", &ipra.number);
    xml.leaf("ProtocolNumber", &ipra.protocol_number);
    xml.leaf("ProtocolDate", &ipra.protocol_date);
    xml.leaf_opt("DecisionDate", ipra.decision_date.as_deref());
    xml.leaf_opt("IssuedBy", ipra.issued_by.as_deref());
    xml.close("Ipra");
    xml.open("Person", &[]);
    xml.leaf("Snils", &person.snils);
    xml.leaf("Surname", &person.surname);
    xml.leaf("GivenName", &person.given_name);
    xml.leaf_opt("Patronymic", person.patronymic.as_deref());
    xml.leaf_opt("BirthDate", person.birth_date.as_deref());
    xml.close("Person");
    xml.leaf("Received", &received);
    xml.leaf("DueDate", &due);
    xml.open("Items", &[]);
    for item in &items {
        xml.open("Item", &[("key", &item.measure.key)]);
        xml.leaf_opt("Code", item.measure.code.as_deref());
        xml.leaf("Name", &item.measure.name);
        xml.leaf_opt("Quantity", item.measure.quantity.as_deref());
        xml.leaf("Reason", &item.reason);
        xml.close("Item");
    }
    xml.close("Items");
    xml.empty("Consent", &[("given", "true")]);
    xml.close("TsrClarificationRequest");

    let request = FollowUp {
        kind: CLARIFICATION_ACTION.to_string(),
        title: format!(
            "Запрос на уточнение ТСР по ИПРА № {} (позиций: {}), направить до {due}",
            ipra.number,
            items.len()
        ),
        due_date: Some(due),
        attributes,
        document: Some(Document {
            name: format!("tsr-clarification-{}.xml", file_name_part(&ipra.document_id)),
            media_type: "application/xml".to_string(),
            bytes: xml.finish().into_bytes(),
        }),
    };
    (Some(request), errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipra_plugin_sdk::bindings::ipra::plugin::types::{Attribute, ExecutionStatus};
    use ipra_plugin_sdk::bindings::Guest;
    use ipra_plugin_sdk::department::{sample_ipra, MemoryLookups, NON_EXECUTION_REASONS};

    const SFR: &str = "1027700067328";

    fn lookups() -> MemoryLookups {
        MemoryLookups::default()
            .with_organisation(SFR, "ОСФР по Курганской области")
            .with_reference(NON_EXECUTION_REASONS, &[("refused", "Отказ")])
            // 4 November is a public holiday (Monday in 2024).
            .with_reference(WORKING_CALENDAR, &[("2024-11-04", "holiday")])
    }

    fn request(extra: &[(&str, &str)]) -> ExecutionEntry {
        ExecutionEntry {
            measure_key: Some("6".into()),
            section: "tsr".into(),
            status: ExecutionStatus::NotExecuted,
            measure_name: "Кресло-коляска с ручным приводом".into(),
            executor_ogrn: SFR.into(),
            executor_name: None,
            clarification: None,
            execution_date: None,
            reasons: Vec::new(),
            comment: None,
            extra: extra
                .iter()
                .map(|(code, value)| Attribute {
                    code: code.to_string(),
                    value: value.to_string(),
                })
                .collect(),
        }
    }

    fn full(consent: &str) -> ExecutionEntry {
        request(&[
            ("action", "tsr-clarification"),
            ("consent", consent),
            ("reason", "Параметры <ширина сиденья> не соответствуют показаниям"),
            // A Friday: the weekend and the Monday holiday do not count.
            ("received", "2024-11-01"),
        ])
    }

    fn run(entries: Vec<ExecutionEntry>, today: &str, lookups: &MemoryLookups) -> ExecuteOutput {
        let mut ipra = sample_ipra();
        ipra.decision_date = Some("2024-10-20".into());
        ipra.protocol_date = "2024-10-20".into();
        let input = ExecutionInput {
            ipra,
            entries,
            today: today.into(),
        };
        execute(ExecuteInput::Execution(input), lookups).unwrap()
    }

    fn assert_well_formed(document: &Document) {
        let path = std::env::temp_dir().join(format!("{}-{}", std::process::id(), document.name));
        std::fs::write(&path, &document.bytes).unwrap();
        let output = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg(&path)
            .output()
            .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
        let _ = std::fs::remove_file(&path);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    #[test]
    fn the_request_is_due_two_working_days_after_receipt() {
        let out = run(vec![full("true")], "2024-11-05", &lookups());
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.follow_ups.len(), 1);
        let request = &out.follow_ups[0];
        assert_eq!(request.kind, "tsr-clarification");
        // Fri 1 Nov -> Sat, Sun off, Mon 4 holiday -> Tue 5 (1), Wed 6 (2).
        assert_eq!(request.due_date.as_deref(), Some("2024-11-06"));
        let a = &request.attributes;
        assert_eq!(attribute(a, "consent"), Some("true"));
        assert_eq!(attribute(a, "received"), Some("2024-11-01"));
        assert_eq!(attribute(a, "sender-ogrn"), Some(SFR));
        assert_eq!(attribute(a, "item.1.code"), Some("7-02-01"));
        assert_eq!(attribute(a, "overdue"), None);

        let doc = request.document.as_ref().unwrap();
        assert_eq!(doc.name, "tsr-clarification-D-1.xml");
        assert_well_formed(doc);
        let text = String::from_utf8(doc.bytes.clone()).unwrap();
        assert!(text.contains("xmlns=\"urn:ipra:tsr-clarification:1.0\""));
        assert!(text.contains("<Name>ОСФР по Курганской области</Name>"));
        assert!(text.contains("<Code>7-02-01</Code>"));
        assert!(text.contains("<Reason>Параметры &lt;ширина сиденья&gt; не соответствуют показаниям</Reason>"));
        assert!(text.contains("<DueDate>2024-11-06</DueDate>"));
        assert!(text.contains("<Consent given=\"true\"/>"));
    }

    #[test]
    fn the_term_follows_the_config_and_flags_overdue() {
        let three = lookups().with_config(DAYS_KEY, "3");
        let out = run(vec![full("true")], "2024-11-08", &three);
        let request = &out.follow_ups[0];
        assert_eq!(request.due_date.as_deref(), Some("2024-11-07"));
        assert_eq!(attribute(&request.attributes, "overdue"), Some("true"));
    }

    #[test]
    fn consent_is_required() {
        let missing = request(&[
            ("action", "tsr-clarification"),
            ("reason", "Не тот вид"),
            ("received", "2024-11-01"),
        ]);
        for (entry, code) in [
            (missing, "consent-missing"),
            (full("false"), "consent-refused"),
            (full("да"), "consent-format"),
        ] {
            let out = run(vec![entry], "2024-11-05", &lookups());
            assert!(out.follow_ups.is_empty());
            assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
            let e = &out.errors[0];
            assert_eq!(e.code, code);
            assert_eq!(e.field.as_deref(), Some("Согласие гражданина"));
            assert_eq!(e.record.as_deref(), Some("Мероприятие 1 (мероприятие ИПРА 6)"));
        }
    }

    #[test]
    fn reason_receipt_item_and_sender_are_checked() {
        let cases: Vec<(ExecutionEntry, &str, &str)> = vec![
            (
                request(&[
                    ("action", "tsr-clarification"),
                    ("consent", "true"),
                    ("received", "2024-11-01"),
                ]),
                "missing-field",
                "Причина уточнения",
            ),
            (
                request(&[("action", "tsr-clarification"), ("consent", "true"), ("reason", "вид")]),
                "missing-field",
                "Дата получения ИПРА",
            ),
            (
                request(&[
                    ("action", "tsr-clarification"),
                    ("consent", "true"),
                    ("reason", "вид"),
                    ("received", "01.11.2024"),
                ]),
                "date-format",
                "Дата получения ИПРА",
            ),
            (
                request(&[
                    ("action", "tsr-clarification"),
                    ("consent", "true"),
                    ("reason", "вид"),
                    ("received", "2024-12-01"),
                ]),
                "date-in-future",
                "Дата получения ИПРА",
            ),
            (
                ExecutionEntry {
                    measure_key: Some("1".into()),
                    ..full("true")
                },
                "measure-unknown",
                "Мероприятие ИПРА",
            ),
            (
                ExecutionEntry {
                    measure_key: None,
                    ..full("true")
                },
                "missing-field",
                "Мероприятие ИПРА",
            ),
            (
                ExecutionEntry {
                    executor_ogrn: "1234567".into(),
                    ..full("true")
                },
                "ogrn-format",
                "ОГРН исполнителя",
            ),
            (
                ExecutionEntry {
                    section: "health".into(),
                    ..full("true")
                },
                "section-mismatch",
                "Раздел",
            ),
        ];
        for (entry, code, field) in cases {
            let out = run(vec![entry], "2024-11-05", &lookups());
            assert!(out.follow_ups.is_empty());
            assert_eq!(out.errors.len(), 1, "{code} {field}: {:?}", out.errors);
            assert_eq!(
                (out.errors[0].code.as_str(), out.errors[0].field.as_deref()),
                (code, Some(field))
            );
        }
    }

    #[test]
    fn ordinary_rows_are_validated_by_the_department_at_their_positions() {
        let row = ExecutionEntry {
            extra: Vec::new(),
            reasons: Vec::new(),
            ..request(&[])
        };
        let out = run(vec![full("true"), row], "2024-11-05", &lookups());
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        assert_eq!(out.errors[0].code, "missing-field");
        assert_eq!(out.errors[0].field.as_deref(), Some("Причины неисполнения"));
        assert_eq!(
            out.errors[0].record.as_deref(),
            Some("Мероприятие 2 (мероприятие ИПРА 6)")
        );
        // No request from an invalid record.
        assert!(out.follow_ups.is_empty());

        let valid_row = ExecutionEntry {
            extra: Vec::new(),
            reasons: vec!["refused".into()],
            ..request(&[])
        };
        let out = run(vec![valid_row], "2024-11-05", &lookups());
        assert!(out.errors.is_empty() && out.follow_ups.is_empty());
    }

    #[test]
    fn describes_its_section_and_config() {
        let info = <Plugin as Guest>::describe();
        assert_eq!(info.sections, ["tsr"]);
        assert_eq!(info.config_keys[0].default_value.as_deref(), Some("2"));
    }
}
