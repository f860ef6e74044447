//! Reading what ZAGS sends: the `FATALRequest` push of death records (4.0.6 and 4.0.4) and `FATALINFResponse`
//! answers to our queries (4.0.1), each record turned into a `DeathRecord`, a `Skipped` text or a record error.

use crate::date;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, DeathRecord, DeathRecordKind, Document, ImportOutput, Normalized, PluginError, RecordOutcome,
};
use ipra_plugin_sdk::snils;
use ipra_plugin_sdk::xml::tree::{self, Element};

/// Namespace stem of `FATALRequest`; the version follows it.
const FATAL_ROOT: &str = "urn://x-artefacts-zags-fatal/root/112-04/";
/// The `FATALRequest` versions whose schemas this reader follows (`../shared/formats/zags`).
const FATAL_VERSIONS: &[&str] = &["4.0.6", "4.0.4"];
/// Namespace stem of `FATALINFRequest`/`FATALINFResponse`.
const FATALINF_ROOT: &str = "urn://x-artefacts-zags-fatalinf/root/112-52/";
/// The `FATALINFResponse` versions this reader follows.
const FATALINF_VERSIONS: &[&str] = &["4.0.1"];

fn record_error(locator: &str, code: &str, field: &str, message: String) -> PluginError {
    PluginError {
        code: code.into(),
        message,
        record: Some(locator.to_string()),
        field: Some(field.to_string()),
    }
}

/// An attribute or, failing that, the text of a child element of the same name: ZAGS types moved values
/// between the two forms across versions (certificates are attributes in 4.0.4, elements in 4.0.6).
fn value<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element
        .attr(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .or_else(|| element.child_text(name))
}

fn push(extra: &mut Vec<Attribute>, code: &str, value: Option<&str>) {
    if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
        extra.push(Attribute {
            code: code.into(),
            value: value.to_string(),
        });
    }
}

/// A date given as a calendar date (`<prefix>Календ`, or a plain element) or as a partial date (`<prefix>Док`):
/// `Ok(None)` when the registry says it is unknown. The precision goes to `extra` when not a full date.
fn read_date(
    parent: &Element,
    calendar_names: &[&str],
    partial_name: &str,
    field: &str,
    locator: &str,
) -> Result<Option<String>, PluginError> {
    for name in calendar_names {
        if let Some(raw) = value(parent, name) {
            return date::calendar(raw).map(Some).ok_or_else(|| {
                record_error(
                    locator,
                    "date-invalid",
                    field,
                    format!("{locator}: поле «{field}» содержит недопустимую дату «{raw}»"),
                )
            });
        }
    }
    let Some(partial) = parent.child(partial_name) else {
        return Ok(None);
    };
    let year = partial.child_text("Год").unwrap_or_default();
    date::partial(year, partial.child_text("Месяц"), partial.child_text("День"))
        .map(Some)
        .map_err(|why| {
            record_error(
                locator,
                "date-invalid",
                field,
                format!("{locator}: поле «{field}» (неполная дата): {why}"),
            )
        })
}

/// The first address text anywhere under an address element, whatever its variant (FIAS, KLADR, foreign, free).
fn address_text(element: &Element) -> Option<String> {
    for name in ["АдрТекст", "АдрРФТекст"] {
        if let Some(text) = element.attr(name).map(str::trim).filter(|t| !t.is_empty()) {
            return Some(text.to_string());
        }
    }
    if matches!(element.name.as_str(), "АдрТекст" | "АдрМЖКонв") && !element.text.trim().is_empty() {
        return Some(element.text.trim().to_string());
    }
    element.children.iter().find_map(address_text)
}

/// Latest date of change of a correction-like block, to order a restoration against a cancellation.
fn change_date(record: &Element, name: &str) -> Option<String> {
    record
        .children_named(name)
        .filter_map(|c| c.attr("ДатаВнесИспр").and_then(date::calendar))
        .max()
}

/// How the record changes the register. The schema marks a cancelled act with `СведАннулирАГС` and a corrected
/// one with `СведИспрАГС`; `СведВосстанАГС` (restoration) makes a cancelled act valid again, so it counts as a
/// correction unless a cancellation is later; a version number above 0 is a later version of the record.
fn kind(record: &Element, version: &str) -> DeathRecordKind {
    let cancelled = change_date(record, "СведАннулирАГС");
    let restored = change_date(record, "СведВосстанАГС");
    let has = |name: &str| record.child(name).is_some();
    if has("СведАннулирАГС") && !(has("СведВосстанАГС") && restored >= cancelled) {
        DeathRecordKind::Cancellation
    } else if has("СведИспрАГС") || has("СведВосстанАГС") || !version.trim_start_matches('0').is_empty()
    {
        DeathRecordKind::Correction
    } else {
        DeathRecordKind::New
    }
}

/// A part of ФИО; `None` when the registry flags it unknown (`ПрФамилия`, `ПрИмя`, `ПрОтчество`).
fn name_part(names: Option<&Element>, name: &str) -> Option<String> {
    names.and_then(|n| n.child_text(name)).map(str::to_string)
}

/// What the document header adds to every record.
struct Header<'a> {
    format: &'a str,
    document_id: Option<&'a str>,
    document_date: Option<&'a str>,
}

/// One `СведРегСмерт` of any supported version as a death record.
fn death_record(record: &Element, header: &Header, locator: &str) -> Result<DeathRecord, PluginError> {
    // 4.0.6 and FATALINF: НомерЗаписЕГР; 4.0.4: НомерЗапис.
    let number = value(record, "НомерЗаписЕГР")
        .or_else(|| value(record, "НомерЗапис"))
        .ok_or_else(|| {
            record_error(
                locator,
                "missing-field",
                "НомерЗаписЕГР",
                format!("{locator}: не указан номер записи акта о смерти (НомерЗаписЕГР)"),
            )
        })?;
    let version = value(record, "НомерВерс").unwrap_or("0");
    let transmitted = record.child("ПрдСведРег").ok_or_else(|| {
        record_error(
            locator,
            "missing-field",
            "ПрдСведРег",
            format!("{locator}: нет сведений об умершем (ПрдСведРег)"),
        )
    })?;
    // 4.0.4 nests the person one level deeper.
    let person = transmitted.child("СведУмер").unwrap_or(transmitted);
    let snils = match transmitted
        .attr("СНИЛС")
        .or_else(|| person.attr("СНИЛС"))
        .map(str::trim)
    {
        Some(raw) if !raw.is_empty() => Some(
            snils::validate(raw)
                .map_err(|e| record_error(locator, e.code(), "СНИЛС", format!("{locator}: СНИЛС «{raw}»: {e}")))?,
        ),
        _ => None,
    };
    let names = person.child("ФИОУмер");
    let act_date = read_date(record, &["ДатаЗапис"], "ДатаЗаписДок", "ДатаЗапис", locator)?;
    let birth_date = read_date(person, &["ДатаРождКаленд"], "ДатаРождДок", "ДатаРожд", locator)?;
    let death_date = read_date(person, &["ДатаСмертКаленд"], "ДатаСмертДок", "ДатаСмерт", locator)?;
    let office = record.child("ОрганЗАГС");

    let mut extra = Vec::new();
    // Contradictions inside the record do not fail it: the host keeps it for a person to decide.
    if let (Some(death), Some(birth)) = (&death_date, &birth_date) {
        if date::precedes(death, birth) {
            push(
                &mut extra,
                "doubt",
                Some(&format!(
                    "дата смерти {death} раньше даты рождения {birth} в записи ЗАГС"
                )),
            );
        }
    }
    if let (Some(act), Some(death)) = (&act_date, &death_date) {
        if date::precedes(act, death) {
            push(
                &mut extra,
                "doubt",
                Some(&format!("дата записи акта {act} раньше даты смерти {death}")),
            );
        }
    }
    push(&mut extra, "format", Some(header.format));
    push(&mut extra, "document-id", header.document_id);
    push(
        &mut extra,
        "document-date",
        header.document_date.and_then(date::calendar).as_deref(),
    );
    push(&mut extra, "record-number", Some(number));
    push(&mut extra, "record-version", Some(version));
    push(&mut extra, "record-version-date", value(record, "ДатаВерс"));
    push(&mut extra, "egr-section", value(record, "РазделЕГР"));
    push(&mut extra, "certificate-act-number", value(record, "НомАГССвид"));
    push(&mut extra, "status-code", value(record, "КодСостСтат"));
    if let Some(status) = record.child("СтатусЗаписи") {
        push(&mut extra, "status-code", status.attr("КодСтатус"));
        push(&mut extra, "status-name", status.attr("НаимСтатус"));
        push(&mut extra, "status-date", status.attr("ДатаНачСтатус"));
    }
    push(
        &mut extra,
        "registry-office-code",
        office.and_then(|o| o.attr("КодЗАГС")),
    );
    for (code, name) in [
        ("correction-date", "СведИспрАГС"),
        ("restoration-date", "СведВосстанАГС"),
        ("cancellation-date", "СведАннулирАГС"),
    ] {
        push(&mut extra, code, change_date(record, name).as_deref());
    }
    if let Some(certificate) = ["СведСвидет", "СвидетСмерт"].iter().find_map(|name| record.child(name))
    {
        let issued = value(certificate, "ДатаВыдСвидет").and_then(date::calendar);
        let text = [
            value(certificate, "СерияСвидет").map(str::to_string),
            value(certificate, "НомерСвидет").map(str::to_string),
            issued,
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        push(&mut extra, "certificate", Some(&text));
    }
    let gender = value(person, "Пол").and_then(|g| match g {
        "1" => Some("M"),
        "2" => Some("F"),
        _ => None,
    });
    push(&mut extra, "gender", gender);
    push(
        &mut extra,
        "unidentified",
        person.attr("ПрНеустанЛицо").or(transmitted.attr("ПрНеустанЛицо")),
    );
    push(&mut extra, "death-time", value(person, "ВремяСмерт"));
    push(
        &mut extra,
        "death-place",
        person.child("МестоСмерт").and_then(|p| p.attr("МестоТекст")),
    );
    push(
        &mut extra,
        "address",
        person.child("МЖПосл").and_then(address_text).as_deref(),
    );
    for (code, date) in [
        ("birth-date-precision", &birth_date),
        ("death-date-precision", &death_date),
    ] {
        let precision = date.as_deref().and_then(|d| match d.len() {
            4 => Some("year"),
            7 => Some("month"),
            _ => None,
        });
        push(&mut extra, code, precision);
    }

    Ok(DeathRecord {
        // The version is part of the id: each correction of the same act is a record of its own.
        record_id: format!("{number}/{version}"),
        kind: kind(record, version),
        act_number: Some(number.to_string()),
        act_date,
        death_date,
        snils,
        surname: name_part(names, "Фамилия").unwrap_or_default(),
        given_name: name_part(names, "Имя").unwrap_or_default(),
        patronymic: name_part(names, "Отчество"),
        birth_date,
        registry_office: office.and_then(|o| o.attr("НаимЗАГС")).map(|n| n.trim().to_string()),
        extra,
    })
}

/// The version of a document from its root namespace, when it is one this reader knows. Anything else — no
/// namespace, another URI, a version whose schema we have not read — refuses the whole document: a reader
/// guessing at a layout it does not know could close a living person's measures.
fn known_version<'a>(root: &'a Element, document: &str, stem: &str, versions: &[&str]) -> Result<&'a str, PluginError> {
    let expected = versions
        .iter()
        .map(|v| format!("{stem}{v}"))
        .collect::<Vec<_>>()
        .join(" или ");
    let refuse = |code: &str, why: String| PluginError {
        code: code.into(),
        message: format!(
            "Документ «{document}»: {why}; ожидается {expected}. Документ не загружен, сведения о смерти не применены"
        ),
        record: Some(format!("Документ «{document}»")),
        field: Some("xmlns".into()),
    };
    let name = &root.name;
    let Some(namespace) = root.namespace.as_deref().map(str::trim).filter(|ns| !ns.is_empty()) else {
        return Err(refuse(
            "namespace-missing",
            format!("у корневого элемента {name} нет пространства имён, версия формата неизвестна"),
        ));
    };
    let Some(version) = namespace.strip_prefix(stem) else {
        return Err(refuse(
            "namespace-foreign",
            format!("пространство имён «{namespace}» корневого элемента {name} не относится к формату ЕГР ЗАГС"),
        ));
    };
    if !versions.contains(&version) {
        return Err(refuse(
            "version-unsupported",
            format!(
                "версия «{version}» формата {name} не поддерживается (поддерживаются {})",
                versions.join(", ")
            ),
        ));
    }
    Ok(version)
}

fn fatal_request(root: &Element, version: &str) -> Vec<RecordOutcome> {
    let format = format!("FATALRequest-{version}");
    let header = Header {
        format: &format,
        document_id: root.attr("ИдСвед"),
        document_date: root.attr("ДатаСвед"),
    };
    root.children_named("СведРегСмерт")
        .enumerate()
        .map(|(i, record)| {
            let number = value(record, "НомерЗаписЕГР").or_else(|| value(record, "НомерЗапис"));
            let locator = match number {
                Some(n) => format!("Запись {} (акт {n})", i + 1),
                None => format!("Запись {}", i + 1),
            };
            let outcome = death_record(record, &header, &locator).map(Normalized::Death);
            RecordOutcome { locator, outcome }
        })
        .collect()
}

/// `NNN-NNN-NNN NN`, as people read a SNILS.
pub fn display_snils(digits: &str) -> String {
    snils::format(digits).unwrap_or_else(|_| digits.to_string())
}

/// Our request documents are `<SNILS>-<YYYYMMDD>` (see `request`): the only way an answer without a record can
/// name the person it is about.
fn person_of_document_id(id: &str) -> Option<String> {
    let (digits, day) = id.split_once('-')?;
    (digits.len() == 11 && day.len() == 8 && digits.bytes().chain(day.bytes()).all(|b| b.is_ascii_digit()))
        .then(|| display_snils(digits))
}

fn fatalinf_response(root: &Element, version: &str) -> Vec<RecordOutcome> {
    let format = format!("FATALINFResponse-{version}");
    let request_id = root.attr("ИдЗапрос");
    let header = Header {
        format: &format,
        document_id: request_id,
        document_date: root.attr("ДатаСвед"),
    };
    root.children_named("СведОтветАГС")
        .enumerate()
        .map(|(i, answer)| {
            let document_id = answer.attr("ИдДок").unwrap_or_default();
            let locator = format!("Ответ {} (ИдДок {document_id})", i + 1);
            let person = person_of_document_id(document_id)
                .map(|s| format!("гражданина со СНИЛС {s}"))
                .unwrap_or_else(|| format!("лица из запроса {document_id}"));
            let result = answer.attr("РезОбраб").unwrap_or_default();
            let outcome = match answer.child("СведРегСмерт") {
                Some(record) => death_record(record, &header, &locator).map(|mut death| {
                    push(&mut death.extra, "request-document-id", Some(document_id));
                    if let Some(s) = person_of_document_id(document_id) {
                        push(&mut death.extra, "request-snils", Some(&s.replace(['-', ' '], "")));
                    }
                    Normalized::Death(death)
                }),
                // Both codes answer the question: the registry holds no death record for the person.
                None if result == "1" || result == "2" => Ok(Normalized::Skipped(format!(
                    "ЕГР ЗАГС: сведения о смерти {person} не найдены (запрос {})",
                    request_id.unwrap_or("без идентификатора")
                ))),
                None => Err(record_error(
                    &locator,
                    "zags-not-processed",
                    "РезОбраб",
                    format!(
                        "{locator}: ЕГР ЗАГС не обработал запрос о {person} (РезОбраб «{result}»); запрос нужно повторить"
                    ),
                )),
            };
            RecordOutcome { locator, outcome }
        })
        .collect()
}

/// Reads one document from ZAGS. A document of another kind is one `Skipped` record, not an error.
pub fn import_document(document: &Document) -> Result<ImportOutput, PluginError> {
    let root = tree::parse(&document.bytes).map_err(|mut e| {
        e.record = Some(format!("Документ «{}»", document.name));
        e
    })?;
    // The root's namespace must name a version we know; inside it names are matched without namespaces,
    // lenient where real data drifts from the schema (types moved between the root and types namespaces).
    let records = match root.name.as_str() {
        "FATALRequest" => fatal_request(&root, known_version(&root, &document.name, FATAL_ROOT, FATAL_VERSIONS)?),
        "FATALINFResponse" => fatalinf_response(
            &root,
            known_version(&root, &document.name, FATALINF_ROOT, FATALINF_VERSIONS)?,
        ),
        other => vec![RecordOutcome {
            locator: format!("Документ «{}»", document.name),
            outcome: Ok(Normalized::Skipped(format!(
                "Документ «{}» ({other}) не содержит сведений ЗАГС о смерти и не загружается",
                document.name
            ))),
        }],
    };
    let mut warnings = Vec::new();
    if records.is_empty() {
        warnings.push(PluginError {
            code: "empty-document".into(),
            message: format!("Документ «{}» не содержит ни одной записи", document.name),
            record: None,
            field: None,
        });
    }
    Ok(ImportOutput {
        records,
        claims: Vec::new(),
        follow_ups: Vec::new(),
        warnings,
    })
}
