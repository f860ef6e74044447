//! EGISSO's answers on the packages of facts the region sent: the protocol of loading and checking a
//! package (`package-protocol`) with the package's result (`package-result`) and the result of each
//! record EGISSO found fault with (`record-result`), read into receipts the host applies to its facts.
//!
//! # What is read
//!
//! Both versions of the published schema set (release 23.12.0), which differ in their namespaces and in
//! the spelling of two identifiers:
//!
//! | family | protocol | package result | record result | identifiers |
//! |---|---|---|---|---|
//! | 1.0.x | `package-protocol/1.0.3` | `package-result/1.0.2` | `record-result/1.0.3` | `packageID`, `recID` |
//! | 2.3.0 | `package-protocol/2.3.0` | `package-result/2.3.0` | `record-result/2.3.0` | `packageId`, `recId` |
//!
//! as these documents:
//! - the protocol itself, root `protocol` (what 10.10.I 1.0.4 hands over as an attachment);
//! - the 10.10.I 1.0.3 answer, root `response` in `urn://egisso-ru/msg/10.10.I/1.0.3`, holding the 1.0.3
//!   protocol (the form of the release's SMEV samples, `Эталоны/*/Response.xml`);
//! - the 10.36.S 2.0.0 answer, root `assignmentFactResponse`, which is a 2.3.0 protocol;
//! - a bare package result, root `packageResult` (1.0.2 or 2.3.0): where a package stands, no records.
//!
//! A protocol is either a `packageResult` or a `messageResult` (the message was refused as a whole:
//! its errors, no package id). Every namespace must belong to one family: a version the connector does
//! not know, or a document mixing families, is refused whole (`unsupported-version`) and changes nothing.
//!
//! # What comes out
//!
//! Receipts (`Normalized::Receipt`) about the data file `egisso-10.06.S-<packageId>.xml` (the name this
//! connector gave the package when it wrote it, see [`crate::facts::document_name`]):
//! - one per `recordResult`, in order, `accepted` = `recordOK`; `reason` = its errors (`[ruleCode] report`,
//!   joined by `; `), or its warnings when the record was accepted with warnings; `extra`: `record` (the
//!   element's uuid: a fact's `uuid` or a change's event `uuid`), `ruleCode` (of the errors, comma-joined),
//!   `warnings`;
//! - then one for the package, without `record`: `accepted` = the package was taken in (`packageStatus`
//!   1 принят, 2 обрабатывается, 3 обработан; the records not named above are accepted once it is 3), or
//!   `false` with the message's errors for a `messageResult`.
//!
//! Every receipt carries `packageId`, `packageStatus` (`1`, `2`, `3`, or `refused` for a message refused
//! whole), `recordNum` and `recordNumSuccess` when given, and `protocolVersion`.
//!
//! A `messageResult` names no package: the answer belongs to the package whose id is in the answer's
//! file name (the SMEV adapter names it so), and without one it is refused.
//!
//! # What is refused (the whole document, with the file, record and field named)
//!
//! Malformed XML, a missing or malformed `packageID`, status, `recID` or `recordOK`, an unknown message
//! type, a rule code that is not three digits, a record named twice, counts that contradict each other
//! (more successes than records, or successes and rejections that do not add up to the records of a
//! processed package) and impossible times (processing finished before the package was received):
//! such an answer is doubtful, and a person looks at it.

use crate::facts::document_name;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, Document, ImportOutput, Normalized, PluginError, Receipt, RecordOutcome,
};
use ipra_plugin_sdk::date::Date;
use ipra_plugin_sdk::xml::tree::{self, Element};

/// Where every EGISSO namespace begins; a document in one of them is an answer (or our own package).
pub const EGISSO_NAMESPACES: &str = "urn://egisso-ru/";

const WRAPPER_10_10_I: &str = "urn://egisso-ru/msg/10.10.I/";
const WRAPPER_10_36_S: &str = "urn://egisso-ru/msg/10.36.S/";
const PROTOCOL: &str = "urn://egisso-ru/types/package-protocol/";
const RESULT: &str = "urn://egisso-ru/types/package-result/";
const FACTS_FILE: &str = "urn://egisso-ru/msg/10.06.S/";

/// One version family of the protocol types.
struct Family {
    version: &'static str,
    protocol: &'static str,
    result: &'static str,
    record: &'static str,
    /// The 10.10.I answer of this family, when it wraps the protocol.
    wrapper_10_10_i: Option<&'static str>,
    /// The 10.36.S answer of this family, which is the protocol.
    wrapper_10_36_s: Option<&'static str>,
    package_id: &'static str,
    record_id: &'static str,
}

const FAMILIES: [Family; 2] = [
    Family {
        version: "1.0.3",
        protocol: "urn://egisso-ru/types/package-protocol/1.0.3",
        result: "urn://egisso-ru/types/package-result/1.0.2",
        record: "urn://egisso-ru/types/record-result/1.0.3",
        wrapper_10_10_i: Some("urn://egisso-ru/msg/10.10.I/1.0.3"),
        wrapper_10_36_s: None,
        package_id: "packageID",
        record_id: "recID",
    },
    Family {
        version: "2.3.0",
        protocol: "urn://egisso-ru/types/package-protocol/2.3.0",
        result: "urn://egisso-ru/types/package-result/2.3.0",
        record: "urn://egisso-ru/types/record-result/2.3.0",
        wrapper_10_10_i: None,
        wrapper_10_36_s: Some("urn://egisso-ru/msg/10.36.S/2.0.0"),
        package_id: "packageId",
        record_id: "recId",
    },
];

/// Whether a document is one of EGISSO's (an answer, or a data file sent back by mistake) rather than
/// a reference list: an EGISSO namespace near its start. A CSV never is.
pub fn looks_like_answer(document: &Document) -> bool {
    if document.media_type.starts_with("text/csv") || document.name.to_lowercase().ends_with(".csv") {
        return false;
    }
    let head = &document.bytes[..document.bytes.len().min(4096)];
    let needle = EGISSO_NAMESPACES.as_bytes();
    head.windows(needle.len()).any(|w| w == needle)
}

/// Errors of one answer document, each naming the file.
struct Answer<'a> {
    name: &'a str,
}

impl Answer<'_> {
    fn error(&self, code: &str, record: Option<&str>, field: Option<&str>, message: String) -> PluginError {
        let place = match record {
            Some(record) => format!("Документ «{}», {record}", self.name),
            None => format!("Документ «{}»", self.name),
        };
        PluginError {
            code: code.into(),
            message: format!("{place}: {message}"),
            record: Some(place),
            field: field.map(str::to_string),
        }
    }

    fn unsupported_version(&self, element: &Element, namespace: &str) -> PluginError {
        let version = namespace.rsplit('/').next().unwrap_or(namespace);
        self.error(
            "unsupported-version",
            None,
            Some("xmlns"),
            format!(
                "элемент {} в пространстве имён «{namespace}»: версия «{version}» ответа ЕГИССО не поддерживается \
                 (читаются протоколы 1.0.3 и 2.3.0 и результаты пакета 1.0.2 и 2.3.0); ответ не учтён",
                element.name
            ),
        )
    }
}

/// The one child `name` of `parent` in namespace `ns`. A child of that name in another namespace is a
/// document of another version (or a forgery), refused; `required` says whether it may be absent.
fn child<'e>(
    a: &Answer,
    parent: &'e Element,
    ns: &str,
    name: &str,
    record: Option<&str>,
    required: bool,
) -> Result<Option<&'e Element>, PluginError> {
    let mut found = None;
    for c in parent.children.iter().filter(|c| c.name == name) {
        let namespace = c.namespace.as_deref().unwrap_or("");
        if namespace != ns {
            return Err(if namespace.starts_with(EGISSO_NAMESPACES) {
                a.unsupported_version(c, namespace)
            } else {
                a.error(
                    "unsupported-document",
                    record,
                    Some(name),
                    format!("элемент {name} в пространстве имён «{namespace}», ожидается «{ns}»: ответ не учтён"),
                )
            });
        }
        if found.is_some() {
            return Err(a.error(
                "xml-malformed",
                record,
                Some(name),
                format!("элемент {name} указан дважды"),
            ));
        }
        found = Some(c);
    }
    if required && found.is_none() {
        return Err(a.error(
            "missing-field",
            record,
            Some(name),
            format!("нет обязательного элемента {name} в {}", parent.name),
        ));
    }
    Ok(found)
}

fn text<'e>(
    a: &Answer,
    parent: &'e Element,
    ns: &str,
    name: &str,
    record: Option<&str>,
) -> Result<Option<&'e str>, PluginError> {
    Ok(child(a, parent, ns, name, record, false)?
        .map(|c| c.text.trim())
        .filter(|t| !t.is_empty()))
}

fn required_text<'e>(
    a: &Answer,
    parent: &'e Element,
    ns: &str,
    name: &str,
    record: Option<&str>,
) -> Result<&'e str, PluginError> {
    text(a, parent, ns, name, record)?.ok_or_else(|| {
        a.error(
            "missing-field",
            record,
            Some(name),
            format!("не указано значение {name}"),
        )
    })
}

/// `egisso:UUID`, lower-case.
fn uuid(a: &Answer, value: &str, field: &str, record: Option<&str>) -> Result<String, PluginError> {
    let b = value.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(a.error(
            "uuid-invalid",
            record,
            Some(field),
            format!("значение «{value}» поля {field} не является UUID"),
        ))
    }
}

/// `xsd:positiveInteger`.
fn positive(a: &Answer, value: &str, field: &str) -> Result<u64, PluginError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            a.error(
                "value-invalid",
                None,
                Some(field),
                format!("«{value}» в поле {field} не является целым положительным числом"),
            )
        })
}

/// `xsd:dateTime` as seconds since 1970 (UTC; a time without a zone is read as UTC), or why not.
fn timestamp(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once('T')?;
    let date = Date::parse(date).ok().filter(|_| date.len() == 10)?;
    let zone_at = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || time.ends_with('.') {
        return None;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let [h, m, s] = parts.as_slice() else { return None };
    let number = |p: &str, max: i64| {
        (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<i64>().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    let (h, m, s) = (number(h, 24)?, number(m, 59)?, number(s, 59)?);
    if h == 24 && (m, s) != (0, 0) {
        return None;
    }
    let offset = match zone {
        "" | "Z" => 0,
        z if z.len() == 6 && z.as_bytes()[3] == b':' => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (number(&z[1..3], 14)? * 3600 + number(&z[4..6], 59)? * 60)
        }
        _ => return None,
    };
    Some(date.days_since_epoch() * 86_400 + h * 3600 + m * 60 + s - offset)
}

fn time_of(a: &Answer, value: Option<&str>, field: &str) -> Result<Option<i64>, PluginError> {
    match value {
        None => Ok(None),
        Some(v) => timestamp(v).map(Some).ok_or_else(|| {
            a.error(
                "date-invalid",
                None,
                Some(field),
                format!("«{v}» в поле {field} не является датой и временем (ГГГГ-ММ-ДДTчч:мм:сс)"),
            )
        }),
    }
}

/// Text as one line: EGISSO's reports carry the line breaks and indentation of their templates.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `limit` characters.
fn clip(text: String, limit: usize) -> String {
    if text.chars().count() <= limit {
        text
    } else {
        let mut cut: String = text.chars().take(limit).collect();
        cut.push('…');
        cut
    }
}

fn attr(code: &str, value: impl Into<String>) -> Attribute {
    Attribute {
        code: code.into(),
        value: value.into(),
    }
}

/// A package's result as read: what every receipt of the document repeats.
struct PackageResult {
    package_id: String,
    status: String,
    record_num: Option<u64>,
    record_success: Option<u64>,
    version: &'static str,
}

impl PackageResult {
    fn common(&self) -> Vec<Attribute> {
        let mut extra = vec![
            attr("packageId", self.package_id.clone()),
            attr("packageStatus", self.status.clone()),
            attr("protocolVersion", self.version),
        ];
        if let Some(n) = self.record_num {
            extra.push(attr("recordNum", n.to_string()));
        }
        if let Some(n) = self.record_success {
            extra.push(attr("recordNumSuccess", n.to_string()));
        }
        extra
    }
}

/// `p-result:tPackageResult` (the elements of the package result, in `family.result`).
fn package_result(a: &Answer, el: &Element, family: &Family) -> Result<PackageResult, PluginError> {
    let ns = family.result;
    let raw_id = required_text(a, el, ns, family.package_id, None)?;
    let package_id = uuid(a, raw_id, family.package_id, None)?;
    required_text(a, el, ns, "packageType", None)?;
    let status = required_text(a, el, ns, "packageStatus", None)?;
    if !matches!(status, "1" | "2" | "3") {
        return Err(a.error(
            "value-invalid",
            None,
            Some("packageStatus"),
            format!("статус пакета «{status}» не известен (1 — принят, 2 — обрабатывается, 3 — обработан)"),
        ));
    }
    let received = time_of(
        a,
        Some(required_text(a, el, ns, "receivingTime", None)?),
        "receivingTime",
    )?;
    let started = time_of(a, text(a, el, ns, "startProcessTime", None)?, "startProcessTime")?;
    let finished = time_of(a, text(a, el, ns, "finishProcessTime", None)?, "finishProcessTime")?;
    for (earlier, later, what) in [
        (received, started, "начало обработки раньше приёма пакета"),
        (received, finished, "окончание обработки раньше приёма пакета"),
        (started, finished, "окончание обработки раньше её начала"),
    ] {
        if let (Some(e), Some(l)) = (earlier, later) {
            if l < e {
                return Err(a.error(
                    "date-order",
                    None,
                    Some("finishProcessTime"),
                    format!("невозможные даты протокола: {what}; ответ требует проверки и не учтён"),
                ));
            }
        }
    }
    let record_num = text(a, el, ns, "recordNum", None)?
        .map(|v| positive(a, v, "recordNum"))
        .transpose()?;
    let record_success = text(a, el, ns, "recordNumSuccess", None)?
        .map(|v| positive(a, v, "recordNumSuccess"))
        .transpose()?;
    if let (Some(all), Some(good)) = (record_num, record_success) {
        if good > all {
            return Err(a.error(
                "count-mismatch",
                None,
                Some("recordNumSuccess"),
                format!("успешно обработано {good} записей из {all}: так не бывает; ответ требует проверки и не учтён"),
            ));
        }
    }
    Ok(PackageResult {
        package_id,
        status: status.to_string(),
        record_num,
        record_success,
        version: family.version,
    })
}

/// One `recordResult`: its receipt.
fn record_result(
    a: &Answer,
    el: &Element,
    n: usize,
    family: &Family,
    package: &PackageResult,
    document: &str,
) -> Result<(String, bool, RecordOutcome), PluginError> {
    let ns = family.record;
    let first = format!("запись {n}");
    let raw_id = required_text(a, el, ns, family.record_id, Some(&first))?;
    let record_id = uuid(a, raw_id, family.record_id, Some(&first))?;
    let locator = format!("запись {n} ({record_id})");
    let ok = match required_text(a, el, ns, "recordOK", Some(&locator))? {
        "true" | "1" => true,
        "false" | "0" => false,
        other => {
            return Err(a.error(
                "value-invalid",
                Some(&locator),
                Some("recordOK"),
                format!("признак recordOK «{other}» должен быть true или false"),
            ))
        }
    };
    let (mut errors, mut warnings, mut codes) = (Vec::new(), Vec::new(), Vec::new());
    for message in el.children.iter().filter(|c| c.name == "messages") {
        if message.namespace.as_deref() != Some(ns) {
            return Err(a.unsupported_version(message, message.namespace.as_deref().unwrap_or("")));
        }
        let kind = required_text(a, message, ns, "messageType", Some(&locator))?;
        let code = text(a, message, ns, "ruleCode", Some(&locator))?;
        if let Some(code) = code {
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(a.error(
                    "code-invalid",
                    Some(&locator),
                    Some("ruleCode"),
                    format!("код правила «{code}» должен состоять из трёх цифр"),
                ));
            }
        }
        let report = one_line(required_text(a, message, ns, "report", Some(&locator))?);
        let line = match code {
            Some(code) => format!("[{code}] {report}"),
            None => report,
        };
        match kind {
            "1" => {
                errors.push(line);
                codes.extend(code.map(str::to_string));
            }
            "2" => warnings.push(line),
            other => {
                return Err(a.error(
                    "value-invalid",
                    Some(&locator),
                    Some("messageType"),
                    format!("тип сообщения «{other}» не известен (1 — ошибка, 2 — предупреждение)"),
                ))
            }
        }
    }
    let reason = if !ok {
        Some(if errors.is_empty() {
            "ЕГИССО отклонило запись, не указав причину".to_string()
        } else {
            clip(errors.join("; "), 2000)
        })
    } else if !warnings.is_empty() {
        Some(clip(
            format!("принято с предупреждениями: {}", warnings.join("; ")),
            2000,
        ))
    } else {
        None
    };
    let mut extra = vec![attr("record", record_id.clone())];
    if !codes.is_empty() {
        codes.dedup();
        extra.push(attr("ruleCode", codes.join(",")));
    }
    if !warnings.is_empty() {
        extra.push(attr("warnings", clip(warnings.join("; "), 2000)));
    }
    extra.extend(package.common());
    Ok((
        record_id.clone(),
        ok,
        RecordOutcome {
            locator: format!("Запись {n} ({record_id})"),
            outcome: Ok(Normalized::Receipt(Receipt {
                document_name: document.to_string(),
                accepted: ok,
                reason,
                extra,
            })),
        },
    ))
}

/// The receipts of a package result (records first, the package last).
fn package_receipts(
    a: &Answer,
    result: &Element,
    family: &Family,
    with_records: bool,
) -> Result<Vec<RecordOutcome>, PluginError> {
    let package = package_result(a, result, family)?;
    let document = document_name(&package.package_id);
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut rejected = 0u64;
    if with_records {
        if let Some(list) = child(a, result, family.protocol, "errorRecords", None, false)? {
            for (i, record) in list.children.iter().enumerate() {
                if record.name != "recordResult" || record.namespace.as_deref() != Some(family.record) {
                    return Err(match record.namespace.as_deref() {
                        Some(ns) if ns.starts_with(EGISSO_NAMESPACES) && record.name == "recordResult" => {
                            a.unsupported_version(record, ns)
                        }
                        ns => a.error(
                            "unsupported-document",
                            Some(&format!("запись {}", i + 1)),
                            Some("recordResult"),
                            format!(
                                "в errorRecords ожидается recordResult в пространстве имён «{}», а не {} в «{}»; \
                                 ответ не учтён",
                                family.record,
                                record.name,
                                ns.unwrap_or("")
                            ),
                        ),
                    });
                }
                let (id, ok, outcome) = record_result(a, record, i + 1, family, &package, &document)?;
                if !seen.insert(id.clone()) {
                    return Err(a.error(
                        "duplicate-record",
                        Some(&format!("запись {} ({id})", i + 1)),
                        Some(family.record_id),
                        "запись указана в протоколе дважды; ответ требует проверки и не учтён".into(),
                    ));
                }
                rejected += u64::from(!ok);
                out.push(outcome);
            }
        }
    }
    if let Some(all) = package.record_num {
        let success = package.record_success.unwrap_or(0);
        // Only a protocol lists the rejected records: a bare package result is held to less.
        let adds_up = if with_records && package.status == "3" && package.record_success.is_some() {
            success + rejected == all
        } else {
            success + rejected <= all
        };
        if !adds_up {
            return Err(a.error(
                "count-mismatch",
                None,
                Some("recordNum"),
                format!(
                    "в пакете {all} записей, успешно обработано {success}, отклонено {rejected}: числа не сходятся; \
                     ответ требует проверки и не учтён"
                ),
            ));
        }
    }
    let mut extra = package.common();
    extra.push(attr("packageType", "package"));
    out.push(RecordOutcome {
        locator: format!("Пакет {}", package.package_id),
        outcome: Ok(Normalized::Receipt(Receipt {
            document_name: document,
            accepted: true,
            reason: None,
            extra,
        })),
    });
    Ok(out)
}

/// The first UUID in a file name: the package a `messageResult` answers.
fn uuid_in(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let b = base.as_bytes();
    (0..b.len().saturating_sub(35)).find_map(|at| {
        let candidate = base.get(at..at + 36)?;
        let ok = candidate.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
        ok.then(|| candidate.to_ascii_lowercase())
    })
}

/// A `messageResult`: the message was refused whole.
fn message_receipts(a: &Answer, result: &Element, family: &Family) -> Result<Vec<RecordOutcome>, PluginError> {
    let ns = family.protocol;
    let received = time_of(
        a,
        Some(required_text(a, result, ns, "receivingTime", None)?),
        "receivingTime",
    )?;
    let processed = time_of(
        a,
        Some(required_text(a, result, ns, "processingTime", None)?),
        "processingTime",
    )?;
    if let (Some(r), Some(p)) = (received, processed) {
        if p < r {
            return Err(a.error(
                "date-order",
                None,
                Some("processingTime"),
                "невозможные даты протокола: обработка раньше приёма сообщения; ответ требует проверки и не учтён"
                    .into(),
            ));
        }
    }
    let errors = child(a, result, ns, "errors", None, true)?
        .into_iter()
        .flat_map(|e| e.children.iter());
    let mut lines = Vec::new();
    for error in errors.filter(|e| e.name == "error") {
        // `tError`'s own elements are in the basic types' namespace of the family.
        let message = error.child_text("message").map(one_line).ok_or_else(|| {
            a.error(
                "missing-field",
                None,
                Some("message"),
                "в ошибке сообщения нет текста (message)".into(),
            )
        })?;
        lines.push(match error.child_text("code") {
            Some(code) => format!("[{}] {message}", one_line(code)),
            None => message,
        });
    }
    if lines.is_empty() {
        return Err(a.error(
            "missing-field",
            None,
            Some("error"),
            "протокол сообщает об ошибках сообщения, но не приводит ни одной".into(),
        ));
    }
    let package_id = uuid_in(a.name).ok_or_else(|| {
        a.error(
            "package-unknown",
            None,
            Some("packageId"),
            "протокол сообщает об ошибках сообщения (messageResult) и не называет пакет: имя файла ответа должно \
             содержать идентификатор пакета (например, egisso-10.06.S-<packageId>.xml.protocol.xml); ответ не учтён"
                .into(),
        )
    })?;
    Ok(vec![RecordOutcome {
        locator: format!("Пакет {package_id}"),
        outcome: Ok(Normalized::Receipt(Receipt {
            document_name: document_name(&package_id),
            accepted: false,
            reason: Some(clip(format!("сообщение отклонено: {}", lines.join("; ")), 2000)),
            extra: vec![
                attr("packageId", package_id),
                attr("packageStatus", "refused"),
                attr("protocolVersion", family.version),
                attr("packageType", "package"),
            ],
        })),
    }])
}

/// `tPackageProtocol`: a package result or a message result, children in `family.protocol`.
fn protocol(a: &Answer, el: &Element, family: &Family) -> Result<Vec<RecordOutcome>, PluginError> {
    let package = child(a, el, family.protocol, "packageResult", None, false)?;
    let message = child(a, el, family.protocol, "messageResult", None, false)?;
    match (package, message) {
        (Some(p), None) => package_receipts(a, p, family, true),
        (None, Some(m)) => message_receipts(a, m, family),
        _ => Err(a.error(
            "unsupported-document",
            None,
            Some("packageResult"),
            "протокол должен содержать либо packageResult, либо messageResult".into(),
        )),
    }
}

/// The family a namespace of a kind (`PROTOCOL`, `RESULT`, …) belongs to, or the refusal of its version.
fn family_of<'f>(
    a: &Answer,
    root: &Element,
    namespace: &str,
    pick: impl Fn(&Family) -> Option<&'static str>,
) -> Result<&'f Family, PluginError> {
    FAMILIES
        .iter()
        .find(|f| pick(f) == Some(namespace))
        .ok_or_else(|| a.unsupported_version(root, namespace))
}

fn read(a: &Answer, root: &Element) -> Result<Vec<RecordOutcome>, PluginError> {
    let namespace = root.namespace.as_deref().unwrap_or("");
    match root.name.as_str() {
        "protocol" if namespace.starts_with(PROTOCOL) => {
            let family = family_of(a, root, namespace, |f| Some(f.protocol))?;
            protocol(a, root, family)
        }
        "packageResult" if namespace.starts_with(RESULT) => {
            let family = family_of(a, root, namespace, |f| Some(f.result))?;
            package_receipts(a, root, family, false)
        }
        "response" if namespace.starts_with(WRAPPER_10_10_I) => {
            if root.children.iter().any(|c| c.name == "attachment")
                && !root.children.iter().any(|c| c.name == "protocol")
            {
                return Err(a.error(
                    "unsupported-document",
                    None,
                    Some("attachment"),
                    "ответ 10.10.I лишь сообщает, что протокол передан вложением через хранилище СМЭВ: положите во \
                     входящие сам файл протокола (protocol)"
                        .into(),
                ));
            }
            let family = family_of(a, root, namespace, |f| f.wrapper_10_10_i)?;
            let inner = child(a, root, family.protocol, "protocol", None, true)?.expect("a required child is there");
            protocol(a, inner, family)
        }
        "assignmentFactResponse" if namespace.starts_with(WRAPPER_10_36_S) => {
            let family = family_of(a, root, namespace, |f| f.wrapper_10_36_s)?;
            protocol(a, root, family)
        }
        "data" if namespace.starts_with(FACTS_FILE) => Err(a.error(
            "unsupported-document",
            None,
            None,
            "это пакет фактов назначения (10.06.S), который отправляет регион, а не ответ ЕГИССО".into(),
        )),
        _ => Err(a.error(
            "unsupported-document",
            None,
            Some("xmlns"),
            format!(
                "корневой элемент {} в пространстве имён «{namespace}» не является ответом ЕГИССО \
                 (ожидается protocol, packageResult, response 10.10.I или assignmentFactResponse 10.36.S)",
                root.name
            ),
        )),
    }
}

/// `import(document)` of an answer: its receipts, or the refusal of the whole document.
pub fn import_answer(document: &Document) -> Result<ImportOutput, PluginError> {
    let a = Answer { name: &document.name };
    let root = tree::parse(&document.bytes).map_err(|mut e| {
        e.message = format!("Документ «{}»: {}", document.name, e.message);
        e.record = Some(format!("Документ «{}»", document.name));
        e
    })?;
    Ok(ImportOutput {
        records: read(&a, &root)?,
        claims: Vec::new(),
        follow_ups: Vec::new(),
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_with_their_zone() {
        assert_eq!(timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(timestamp("1970-01-01T03:00:00+03:00"), Some(0));
        assert_eq!(
            timestamp("2019-08-22T18:17:08.655+04:00"),
            timestamp("2019-08-22T14:17:08Z")
        );
        for bad in [
            "2019-08-22",
            "2019-08-22T25:00:00",
            "2019-02-30T10:00:00",
            "2019-08-22T10:00",
            "2019-08-22T10:00:00.",
            "2019-08-22T10:00:00+3",
        ] {
            assert_eq!(timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_package_id_is_found_in_a_file_name() {
        assert_eq!(
            uuid_in("in/egisso-10.06.S-3F2B1C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D.xml.protocol.xml").as_deref(),
            Some("3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
        );
        assert_eq!(uuid_in("protocol.xml"), None);
    }
}
