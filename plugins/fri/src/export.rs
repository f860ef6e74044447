//! FRI connector, hook `export` with `report-package`: renders the execution report of one IPRA for upload to FRI
//! as a `fri:ВыпискаФРИ` document (schema v1.5) and the SMEV 3 `DisabledDataRequest` 1.0.7 content that carries it.
//!
//! [`export_report`] returns two documents, in this order:
//!
//! 1. `fri-report-<report id>.xml` (`application/xml`): a `ВыпискаФРИ` (namespace `http://fri.pfr.ru`) that
//!    validates against `fri-extract-schema-v1.5.xsd`. One execution `Документ` per section that has entries,
//!    shaped like the real `RESOC_20180416` documents FRI hands out; one `Запись` per execution entry.
//! 2. `fri-request-<report id>.xml` (`application/xml`): the content of the SMEV 3 request that uploads the report
//!    (see "The upload request" below). The transport wraps it in the SOAP envelope, zips and signs the report.
//!
//! Plugins have no clock and no randomness, so every identifier is a name-based UUID (RFC 4122 version 5, SHA-1,
//! namespace URL) of a name derived from `report_id`: the same input always gives the same bytes.
//!
//! # The report document
//!
//! | element | value |
//! |---|---|
//! | `Идентификатор` | UUID v5 of `urn:ipra:fri:report:<report_id>` |
//! | `ТипВыписки` | `FIXED` (the content is fixed when the report is signed) |
//! | `ВремяФормирования` | `created` as `xs:dateTime` (a bare date gets `T00:00:00`) |
//! | `Потребитель` | `MSE.MSE` (execution information is addressed to the MSE institutions, order 723н) |
//! | `ПерсональныеДанные/СНИЛС` | the 11 digits as `NNN-NNN-NNN NN` |
//! | `Фамилия`, `Имя`, `Отчество` | upper case, as the schema asks; no patronymic gives an empty `Отчество` |
//! | `ДатаРождения` | the person's birth date (required by the schema) |
//! | `Пол` | `M`, `F` (also `М`/`Ж`), empty when unknown |
//! | `ДатаРегистрации` | person attribute `ДатаРегистрации` or `registration-date` when given, else `ВремяФормирования` |
//! | `АктуальныеСведенияОбИнвалидности` | `Ребенок` = `is-child`; every other element `xsi:nil="true"` |
//! | `ВсеДокументы/Документ` | one per section with entries, in the order of the table below |
//!
//! Each `Документ/РеквизитыДокумента`: `ID` = UUID v5 of `urn:ipra:fri:document:<report_id>:<section>`, `Ключ` = the
//! same 32 hex digits without dashes, upper case; `РодительскийДокумент` = the IPRA's `document-id`; `Источник` =
//! `Код` `FO_REG` (the regional executive bodies' source code in FRI, as in the consumer `FO_REG.FO_IPRAEXTR`),
//! `Наименование` = the reporter's name; `Номер` = `report_id`; `Дата` = the date of `created`; `СрокДействия` =
//! `9999-12-31` (no term, as in the real RESOC documents); `ДатаРегистрации` = `ВремяФормирования`;
//! `ДокументОснование` = `false`; `ДокументИсполнение` = `true`.
//!
//! Document types (`ТипДокумента`) and record categories (`Запись/Категория`, `Назначение` = `ИСП`). Only
//! `RESOC_20180416`, `IPRAEXEC.REHAB.SOCIOENV` (1548) and `IPRAEXEC.REHAB.SOCIOPSYCHOLOG` (1549) are real FRI
//! codes; the others are ours, in the same style, because FRI publishes none for these sections. Our
//! `ИдентификаторОбъекта` numbers (9xxxx) are placeholders for the metadata ids FRI would assign.
//!
//! | section | `КодВерсия` / `Код` | `Наименование` of the type | category `Код` (`ИдентификаторОбъекта`): `Наименование` |
//! |---|---|---|---|
//! | `health` | `REMED_20250101` / `REMED` | Сведения об исполнении ИПРА органами исполнительной власти субъекта РФ в сфере охраны здоровья | `IPRAEXEC.REHAB.MED` (90101): Медицинская реабилитация и абилитация |
//! | `employment` | `REEMPL_20250101` / `REEMPL` | … в сфере содействия занятости населения | `IPRAEXEC.REHAB.PROF` (90201): Профессиональная реабилитация и абилитация |
//! | `education` | `REEDU_20250101` / `REEDU` | … в сфере образования | `IPRAEXEC.REHAB.PSYCHOPED` (90301): Психолого-педагогическая реабилитация и абилитация |
//! | `social-protection` | `RESOC_20180416` / `RESOC` (real) | … в сфере социальной защиты населения | `IPRAEXEC.REHAB.SOCIOENV` (1548): Социально-средовая реабилитация и абилитация, when the entry's or its IPRA measure's name, category name or `GroupTypeName` mentions «средов»; `IPRAEXEC.REHAB.SOCIOPSYCHOLOG` (1549): Социально-психологическая реабилитация и абилитация, when it mentions «психолог»; otherwise `IPRAEXEC.REHAB.SOCIAL` (90401): Социальная реабилитация и абилитация |
//! | `sport` | `RESPORT_20250101` / `RESPORT` | … в сфере физической культуры и спорта | `IPRAEXEC.REHAB.PHYSCULT` (90501): Реабилитация и абилитация методами физической культуры и спорта |
//! | `tsr` | `RETSR_20250101` / `RETSR` | … по обеспечению техническими средствами реабилитации | `IPRAEXEC.TSR` (90601): Обеспечение техническими средствами реабилитации |
//! | (each reason of a not-executed entry) | | | `IPRAEXEC.NONEXECREASON` (90001): Причина неисполнения мероприятия — a child record |
//!
//! Records: an entry's `Ключ` is `<document Ключ>.<n>` (n = its place in the document, from 1) with an empty
//! `Родитель`; each non-execution reason is a child record `<entry Ключ>.<m>` whose `Родитель` is the entry's key.
//! Attributes (`Атрибут`: `Код`, `Наименование`, `ТипДанных`, `Значение`); texts are written exactly as given
//! (escaped; only characters XML 1.0 cannot carry, control characters other than tab, line feed and carriage
//! return, become U+FFFD):
//!
//! | `Код` | `Наименование` | `ТипДанных` | when |
//! |---|---|---|---|
//! | `ExecuteResultCode` | Результат исполнения (код) | STRING | always: `executed` or `not-executed` |
//! | `ExecuteResultName` | Результат исполнения | STRING | always: `Выполнено` or `Не выполнено` |
//! | `EventName` | Наименование мероприятия | STRING | always |
//! | `IPRAEventKey` | Ключ мероприятия в ИПРА | STRING | when the entry reports on a measure of the IPRA |
//! | `EventGUID` | Идентификатор мероприятия в ИПРА | STRING | when that measure has a GUID in the extract |
//! | `ExecutorOGRN` | ОГРН исполнителя мероприятия | STRING | always |
//! | `Executor` | Наименование исполнителя мероприятия | STRING | the entry's executor name; else the reporter's name when the OGRN is the reporter's |
//! | `Clarification` | Уточнение мероприятия | STRING | when not blank |
//! | `ExecuteDate` | Дата исполнения мероприятия | DATE | executed entries (a not-executed entry's date is not sent) |
//! | `Comment` | Комментарий | STRING | executed entries, when not blank |
//! | `Type` | Вид реабилитации/абилитации | NUMBER | entry attribute `Type`, when given (as in RESOC) |
//! | `ExecuteDocRequisitesType` | Вид документа | NUMBER | entry attribute of that code, when given |
//! | `ExecuteDocRequisitesDate` | Дата документа "от" | DATE | entry attribute of that code, when given |
//! | `ExecuteDocRequisitesName` | Реквизиты контракта в виде строки | STRING | entry attribute of that code, when given |
//! | `ExecuteDocRequisitesNumber` | Номер документа | STRING | entry attribute of that code, when given |
//! | `NonExecutionReasonCode` | Код причины неисполнения | STRING | in each `IPRAEXEC.NONEXECREASON` child record |
//!
//! Other entry attributes are not sent. Reason names are not sent: the input carries only the codes of the
//! host's `non-execution-reasons` list.
//!
//! # The upload request
//!
//! No XSD of `http://kvs.fri.com/disabled-data/1.0.7` is public; the shape follows the SMEV 3 message template
//! `DisabledDataRequest-1.0.7.add.template.xml`. Only the message content is rendered, in a wrapper of ours:
//!
//! ```text
//! <SmevRequestContent xmlns="urn:ipra:fri:smev-request-content:1.0" service="DisabledDataRequest_1.0.7" report="…">
//!   <MessagePrimaryContent xmlns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.1">
//!     <tns:DisabledDataRequest xmlns:tns="http://kvs.fri.com/disabled-data/1.0.7">
//!       <tns:AddPackage>
//!         <tns:PackageUUID>UUID v5 of urn:ipra:fri:package:<report_id></tns:PackageUUID>
//!         <tns:DocTypeCode>RESOC</tns:DocTypeCode>
//!         <tns:DocTypeVersion>RESOC_20180416</tns:DocTypeVersion>
//!         <tns:RegionCode>45</tns:RegionCode>            (only when the person or IPRA has attribute `Регион`/`region`)
//!       </tns:AddPackage>
//!     </tns:DisabledDataRequest>
//!   </MessagePrimaryContent>
//!   <RefAttachmentHeaderList xmlns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.1">
//!     <RefAttachmentHeader>
//!       <uuid>UUID v5 of urn:ipra:fri:attachment:<report_id></uuid>
//!       <MimeType>application/zip</MimeType>
//!     </RefAttachmentHeader>
//!   </RefAttachmentHeaderList>
//!   <Attachment uuid="…" fileName="fri-report-<report id>.zip" document="fri-report-<report id>.xml"/>
//! </SmevRequestContent>
//! ```
//!
//! `DocTypeCode`/`DocTypeVersion` name the package's document type: the type of its documents when they all share
//! one (a social-protection report is a `RESOC` package), otherwise `IPRAEXEC` / `IPRAEXEC_20250101` (ours: a
//! report of several sections). `RefAttachmentHeader` leaves out `Hash` and `SignaturePKCS7`, which exist only
//! after the transport has zipped (`Attachment/@document` into `Attachment/@fileName`) and signed the report; the
//! `Attachment` element (namespace of the wrapper) tells the transport which document is the attachment. The SOAP
//! envelope, `MessageID`, `FSAttachmentsList` and the signatures are the transport's too. Resending the same
//! report gives the same package UUID.
//!
//! # Errors
//!
//! Input the schema would reject is refused with a typed error (Russian message, `record`, `field`) instead of a
//! document: `missing-field` (blank report id, IPRA document id, surname, given name, birth date, reporter name or
//! reporter OGRN; an executed entry without a date; a not-executed entry without reasons; a blank measure name or
//! executor OGRN), `no-entries`, `snils-format`, `date-format`, `gender-format`, `ogrn-format`, `ogrn-checksum`,
//! `section-unknown`, `reasons-not-allowed`, `comment-not-allowed`, `number-format`.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, Document, ExecutionEntry, ExecutionStatus, Measure, PluginError, ReferenceEntry, ReportInput,
};
use ipra_plugin_sdk::department::file_name_part;
use ipra_plugin_sdk::uuid;
use ipra_plugin_sdk::xml::writer::XmlWriter;

/// Namespace of the FRI extract documents.
pub const FRI_NAMESPACE: &str = "http://fri.pfr.ru";
/// Namespace of the FRI upload service (SMEV 3 VS «Прием комплексных сведений об инвалидах»).
pub const DISABLED_DATA_NAMESPACE: &str = "http://kvs.fri.com/disabled-data/1.0.7";
/// Namespace of the SMEV 3 message-exchange basic types (`MessagePrimaryContent`, `RefAttachmentHeaderList`).
pub const SMEV_BASIC_NAMESPACE: &str = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.1";
/// Namespace of our wrapper around the request content.
pub const REQUEST_CONTENT_NAMESPACE: &str = "urn:ipra:fri:smev-request-content:1.0";
/// `Потребитель` of the report.
pub const CONSUMER: &str = "MSE.MSE";
/// `Источник/Код` of the execution documents.
pub const SOURCE_CODE: &str = "FO_REG";
/// Package type of a report with documents of several types (ours).
pub const MIXED_PACKAGE: (&str, &str) = ("IPRAEXEC", "IPRAEXEC_20250101");

const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";
const PURPOSE: &str = "ИСП";

/// A record category of an execution document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// `Категория/Код`.
    pub code: &'static str,
    /// `Категория/Наименование`.
    pub name: &'static str,
    /// `ИдентификаторОбъекта`.
    pub object_id: i64,
}

/// The FRI document type of one section's execution document.
#[derive(Debug, Clone, Copy)]
pub struct SectionType {
    /// Section id (`health`, ..., `tsr`).
    pub section: &'static str,
    /// `ТипДокумента/Код`.
    pub code: &'static str,
    /// `ТипДокумента/КодВерсия`.
    pub code_version: &'static str,
    /// `ТипДокумента/Наименование`.
    pub name: &'static str,
    /// Category of the section's entries (social protection refines it, see [`category_of`]).
    pub category: Category,
}

/// The six sections in the order their documents appear.
pub const SECTION_TYPES: [SectionType; 6] = [
    SectionType {
        section: "health",
        code: "REMED",
        code_version: "REMED_20250101",
        name: "Сведения об исполнении ИПРА органами исполнительной власти субъекта РФ в сфере охраны здоровья",
        category: Category {
            code: "IPRAEXEC.REHAB.MED",
            name: "Медицинская реабилитация и абилитация",
            object_id: 90101,
        },
    },
    SectionType {
        section: "employment",
        code: "REEMPL",
        code_version: "REEMPL_20250101",
        name: "Сведения об исполнении ИПРА органами исполнительной власти субъекта РФ в сфере содействия занятости населения",
        category: Category {
            code: "IPRAEXEC.REHAB.PROF",
            name: "Профессиональная реабилитация и абилитация",
            object_id: 90201,
        },
    },
    SectionType {
        section: "education",
        code: "REEDU",
        code_version: "REEDU_20250101",
        name: "Сведения об исполнении ИПРА органами исполнительной власти субъекта РФ в сфере образования",
        category: Category {
            code: "IPRAEXEC.REHAB.PSYCHOPED",
            name: "Психолого-педагогическая реабилитация и абилитация",
            object_id: 90301,
        },
    },
    SectionType {
        section: "social-protection",
        code: "RESOC",
        code_version: "RESOC_20180416",
        name: "Сведения об исполнении ИПРА органами исполнительной власти субъекта РФ в сфере социальной защиты населения",
        category: Category {
            code: "IPRAEXEC.REHAB.SOCIAL",
            name: "Социальная реабилитация и абилитация",
            object_id: 90401,
        },
    },
    SectionType {
        section: "sport",
        code: "RESPORT",
        code_version: "RESPORT_20250101",
        name: "Сведения об исполнении ИПРА органами исполнительной власти субъекта РФ в сфере физической культуры и спорта",
        category: Category {
            code: "IPRAEXEC.REHAB.PHYSCULT",
            name: "Реабилитация и абилитация методами физической культуры и спорта",
            object_id: 90501,
        },
    },
    SectionType {
        section: "tsr",
        code: "RETSR",
        code_version: "RETSR_20250101",
        name: "Сведения об исполнении ИПРА органами исполнительной власти субъекта РФ по обеспечению техническими средствами реабилитации",
        category: Category {
            code: "IPRAEXEC.TSR",
            name: "Обеспечение техническими средствами реабилитации",
            object_id: 90601,
        },
    },
];

/// Real RESOC category: socio-environmental rehabilitation.
pub const SOCIOENV: Category = Category {
    code: "IPRAEXEC.REHAB.SOCIOENV",
    name: "Социально-средовая реабилитация и абилитация",
    object_id: 1548,
};
/// Real RESOC category: socio-psychological rehabilitation.
pub const SOCIOPSYCHOLOG: Category = Category {
    code: "IPRAEXEC.REHAB.SOCIOPSYCHOLOG",
    name: "Социально-психологическая реабилитация и абилитация",
    object_id: 1549,
};
/// Child record of a not-executed entry: one reason.
pub const REASON: Category = Category {
    code: "IPRAEXEC.NONEXECREASON",
    name: "Причина неисполнения мероприятия",
    object_id: 90001,
};

/// Entry attributes passed through as in RESOC: (code, name, data type).
const PASSED_THROUGH: [(&str, &str, &str); 5] = [
    ("Type", "Вид реабилитации/абилитации", "NUMBER"),
    ("ExecuteDocRequisitesType", "Вид документа", "NUMBER"),
    ("ExecuteDocRequisitesDate", "Дата документа \"от\"", "DATE"),
    (
        "ExecuteDocRequisitesName",
        "Реквизиты контракта в виде строки",
        "STRING",
    ),
    ("ExecuteDocRequisitesNumber", "Номер документа", "STRING"),
];

/// Names of the fields the errors point at.
mod field {
    pub const REPORT_ID: &str = "Идентификатор отчёта";
    pub const DOCUMENT_ID: &str = "Идентификатор документа ИПРА";
    pub const SURNAME: &str = "Фамилия";
    pub const GIVEN_NAME: &str = "Имя";
    pub const SNILS: &str = "СНИЛС";
    pub const BIRTH_DATE: &str = "Дата рождения";
    pub const GENDER: &str = "Пол";
    pub const REPORTER_NAME: &str = "Наименование отчитывающейся организации";
    pub const REPORTER_OGRN: &str = "ОГРН отчитывающейся организации";
    pub const CREATED: &str = "Дата формирования отчёта";
    pub const ENTRIES: &str = "Мероприятия";
    pub const SECTION: &str = "Раздел";
    pub const MEASURE_NAME: &str = "Наименование мероприятия";
    pub const EXECUTOR_OGRN: &str = "ОГРН исполнителя";
    pub const DATE: &str = "Дата";
    pub const REASONS: &str = "Причины неисполнения";
    pub const COMMENT: &str = "Комментарий";
}

/// A region's own section — a vendor department's, such as socio-cultural rehabilitation — goes to FRI
/// within the federal section that the region's list of sections names as its parent (the third
/// column of `reference/sections.csv`): the federal format knows its six sections only. An entry of a
/// section with no federal parent is left as it is, and [`export_report`] refuses it by name.
///
/// ```
/// use ipra_plugin_fri::within_federal_sections;
/// use ipra_plugin_sdk::bindings::ipra::plugin::types::ReferenceEntry;
/// let sections = [ReferenceEntry {
///     code: "sociocultural".into(),
///     name: "Социокультурная реабилитация".into(),
///     parent: Some("social-protection".into()),
///     extra: vec![],
/// }];
/// assert_eq!(within_federal_sections("sociocultural", &sections), "social-protection");
/// assert_eq!(within_federal_sections("sport", &sections), "sport");
/// assert_eq!(within_federal_sections("unknown", &sections), "unknown");
/// ```
pub fn within_federal_sections<'a>(section: &'a str, sections: &'a [ReferenceEntry]) -> &'a str {
    if SECTION_TYPES.iter().any(|t| t.section == section) {
        return section;
    }
    sections
        .iter()
        .find(|s| s.code == section)
        .and_then(|s| s.parent.as_deref())
        .filter(|parent| SECTION_TYPES.iter().any(|t| t.section == *parent))
        .unwrap_or(section)
}

/// Renders the execution report package of one IPRA: the `ВыпискаФРИ` report first, the upload request second.
///
/// The input is checked first; the first problem is returned as a typed error and nothing is rendered.
pub fn export_report(input: &ReportInput) -> Result<Vec<Document>, PluginError> {
    let checked = check(input)?;
    let report = render_report(input, &checked);
    let request = render_request(input, &checked);
    Ok(vec![report, request])
}

/// What checking the input established: normalised values the documents need.
struct Checked {
    snils: String,
    created_date: String,
    created_time: String,
    birth_date: String,
    gender: &'static str,
    registered: String,
    /// Indices into `SECTION_TYPES` of the sections that have entries, in document order.
    sections: Vec<usize>,
}

fn check(input: &ReportInput) -> Result<Checked, PluginError> {
    let ipra = &input.ipra;
    let person = &ipra.person;
    let identity = || Some(format!("ИПРА № {}", ipra.number));
    let fail = |code: &str, field: &str, message: String, record: Option<String>| PluginError {
        code: code.to_string(),
        message,
        record,
        field: Some(field.to_string()),
    };
    let required = [
        (input.report_id.as_str(), field::REPORT_ID),
        (ipra.document_id.as_str(), field::DOCUMENT_ID),
        (person.surname.as_str(), field::SURNAME),
        (person.given_name.as_str(), field::GIVEN_NAME),
        (input.reporter_name.as_str(), field::REPORTER_NAME),
        (input.reporter_ogrn.as_str(), field::REPORTER_OGRN),
    ];
    if let Some((_, name)) = required.iter().find(|(value, _)| value.trim().is_empty()) {
        return Err(fail(
            "missing-field",
            name,
            format!("Не заполнено поле «{name}»: отчёт для ФРИ не сформирован"),
            identity(),
        ));
    }
    let snils = person.snils.trim();
    if snils.len() != 11 || !snils.bytes().all(|c| c.is_ascii_digit()) {
        return Err(fail(
            "snils-format",
            field::SNILS,
            format!("СНИЛС «{}» должен состоять из 11 цифр без разделителей", person.snils),
            identity(),
        ));
    }
    let snils = format!("{}-{}-{} {}", &snils[0..3], &snils[3..6], &snils[6..9], &snils[9..11]);
    let birth_date = match person.birth_date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => {
            return Err(fail(
                "missing-field",
                field::BIRTH_DATE,
                "Не указана дата рождения инвалида: без неё ФРИ не примет отчёт".to_string(),
                identity(),
            ))
        }
        Some(date) if !is_date(date) => {
            return Err(fail(
                "date-format",
                field::BIRTH_DATE,
                format!("Дата рождения «{date}» не распознана: укажите её в виде ГГГГ-ММ-ДД"),
                identity(),
            ))
        }
        Some(date) => date.to_string(),
    };
    let gender = match person.gender.as_deref().map(str::trim).unwrap_or_default() {
        "" => "",
        "M" | "m" | "М" | "м" => "M",
        "F" | "f" | "Ж" | "ж" => "F",
        other => {
            return Err(fail(
                "gender-format",
                field::GENDER,
                format!("Пол «{other}» не распознан: ожидается M или F"),
                identity(),
            ))
        }
    };
    let ogrn = input.reporter_ogrn.trim();
    if let Err((code, problem)) = check_ogrn(ogrn) {
        return Err(fail(
            code,
            field::REPORTER_OGRN,
            format!("ОГРН отчитывающейся организации «{ogrn}» неверен: {problem}"),
            Some(format!("Отчёт {}", input.report_id)),
        ));
    }
    let Some((created_date, created_time)) = date_time(&input.created) else {
        return Err(fail(
            "date-format",
            field::CREATED,
            format!(
                "Дата формирования отчёта «{}» не распознана: ожидается ГГГГ-ММ-ДД или ГГГГ-ММ-ДДTчч:мм:сс",
                input.created
            ),
            Some(format!("Отчёт {}", input.report_id)),
        ));
    };
    let registered = person
        .extra
        .iter()
        .filter(|a| a.code == "ДатаРегистрации" || a.code == "registration-date")
        .find_map(|a| date_time(&a.value))
        .map(|(_, time)| time)
        .unwrap_or_else(|| created_time.clone());

    if input.entries.is_empty() {
        return Err(fail(
            "no-entries",
            field::ENTRIES,
            "В отчёте нет ни одного мероприятия: добавьте результаты исполнения хотя бы по одному разделу".to_string(),
            Some(format!("Отчёт {}", input.report_id)),
        ));
    }
    let mut sections = Vec::new();
    for (index, entry) in input.entries.iter().enumerate() {
        let section = check_entry(index + 1, entry)?;
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    sections.sort_unstable();
    Ok(Checked {
        snils,
        created_date,
        created_time,
        birth_date,
        gender,
        registered,
        sections,
    })
}

/// Checks one entry; returns the index of its section in [`SECTION_TYPES`].
fn check_entry(position: usize, entry: &ExecutionEntry) -> Result<usize, PluginError> {
    let record = match entry.measure_key.as_deref() {
        Some(key) => format!("Мероприятие {position} (мероприятие ИПРА {key})"),
        None => format!("Мероприятие {position}"),
    };
    let fail = |code: &str, field: &str, message: String| PluginError {
        code: code.to_string(),
        message,
        record: Some(record.clone()),
        field: Some(field.to_string()),
    };
    let Some(section) = SECTION_TYPES.iter().position(|t| t.section == entry.section) else {
        return Err(fail(
            "section-unknown",
            field::SECTION,
            format!(
                "Раздел «{}» неизвестен ФРИ: ожидается один из разделов health, employment, education, social-protection, sport, tsr; раздел региона укажите в справочнике разделов с родительским федеральным разделом",
                entry.section
            ),
        ));
    };
    if entry.measure_name.trim().is_empty() {
        return Err(fail(
            "missing-field",
            field::MEASURE_NAME,
            "Укажите наименование мероприятия".to_string(),
        ));
    }
    let ogrn = entry.executor_ogrn.trim();
    if ogrn.is_empty() {
        return Err(fail(
            "missing-field",
            field::EXECUTOR_OGRN,
            "Укажите ОГРН исполнителя".to_string(),
        ));
    }
    if let Err((code, problem)) = check_ogrn(ogrn) {
        return Err(fail(
            code,
            field::EXECUTOR_OGRN,
            format!("ОГРН исполнителя «{ogrn}» неверен: {problem}"),
        ));
    }
    let date = entry.execution_date.as_deref().map(str::trim).filter(|d| !d.is_empty());
    match entry.status {
        ExecutionStatus::Executed => {
            let Some(date) = date else {
                return Err(fail(
                    "missing-field",
                    field::DATE,
                    "Мероприятие выполнено, но не указана дата исполнения".to_string(),
                ));
            };
            if !is_date(date) {
                return Err(fail(
                    "date-format",
                    field::DATE,
                    format!("Дата «{date}» не распознана: укажите её в виде ГГГГ-ММ-ДД"),
                ));
            }
            if !entry.reasons.is_empty() {
                return Err(fail(
                    "reasons-not-allowed",
                    field::REASONS,
                    "Причины неисполнения указываются только при результате «Не выполнено»: уберите их или смените результат"
                        .to_string(),
                ));
            }
        }
        ExecutionStatus::NotExecuted => {
            if entry.reasons.iter().all(|r| r.trim().is_empty()) {
                return Err(fail(
                    "missing-field",
                    field::REASONS,
                    "Мероприятие не выполнено, но не указана ни одна причина неисполнения".to_string(),
                ));
            }
            if entry.comment.as_deref().is_some_and(|c| !c.trim().is_empty()) {
                return Err(fail(
                    "comment-not-allowed",
                    field::COMMENT,
                    "Комментарий указывается только при результате «Выполнено»: опишите обстоятельства в уточнении мероприятия"
                        .to_string(),
                ));
            }
        }
    }
    for attribute in &entry.extra {
        let Some((code, name, kind)) = PASSED_THROUGH.iter().find(|(code, _, _)| *code == attribute.code) else {
            continue;
        };
        let value = attribute.value.trim();
        let bad = match *kind {
            "NUMBER" => !is_number(value),
            "DATE" => !is_date(value),
            _ => false,
        };
        if bad {
            let (error_code, expected) = if *kind == "DATE" {
                ("date-format", "дата в виде ГГГГ-ММ-ДД")
            } else {
                ("number-format", "число")
            };
            return Err(fail(
                error_code,
                name,
                format!(
                    "Значение «{}» поля «{name}» ({code}) не распознано: ожидается {expected}",
                    attribute.value
                ),
            ));
        }
    }
    Ok(section)
}

fn render_report(input: &ReportInput, checked: &Checked) -> Document {
    let ipra = &input.ipra;
    let person = &ipra.person;
    let mut xml = XmlWriter::new();
    xml.open(
        "fri:ВыпискаФРИ",
        &[("xmlns:fri", FRI_NAMESPACE), ("xmlns:xsi", XSI_NAMESPACE)],
    );
    xml.leaf(
        "fri:Идентификатор",
        &uuid::v5(&format!("urn:ipra:fri:report:{}", input.report_id)),
    );
    xml.leaf("fri:ТипВыписки", "FIXED");
    xml.leaf("fri:ВремяФормирования", &checked.created_time);
    xml.leaf("fri:Потребитель", CONSUMER);
    xml.open("fri:ПерсональныеДанные", &[]);
    xml.leaf("fri:СНИЛС", &checked.snils);
    xml.leaf("fri:Фамилия", &person.surname.trim().to_uppercase());
    xml.leaf("fri:Имя", &person.given_name.trim().to_uppercase());
    xml.leaf(
        "fri:Отчество",
        &person.patronymic.as_deref().unwrap_or_default().trim().to_uppercase(),
    );
    xml.leaf("fri:ДатаРождения", &checked.birth_date);
    xml.leaf("fri:Пол", checked.gender);
    xml.leaf("fri:ДатаРегистрации", &checked.registered);
    xml.open("fri:АктуальныеСведенияОбИнвалидности", &[]);
    for name in [
        "ДатаС",
        "ДатаПо",
        "НомерАктаМСЭ",
        "ДатаАктаМСЭ",
        "СерияСправкиМСЭ",
        "НомерСправкиМСЭ",
        "ДатаСправкиМСЭ",
        "ПервичнаяИнвалидность",
        "ДатаПервичногоОсвидетельствования",
        "ОчередноеОсвидетельствование",
        "ГруппаИнвалидности",
    ] {
        xml.empty(&format!("fri:{name}"), &[("xsi:nil", "true")]);
    }
    xml.leaf("fri:Ребенок", if ipra.is_child { "true" } else { "false" });
    for name in [
        "ИнвалидПоЗрению",
        "КодПричиныИнвалидности",
        "НаименованиеПричиныИнвалидности",
    ] {
        xml.empty(&format!("fri:{name}"), &[("xsi:nil", "true")]);
    }
    xml.close("fri:АктуальныеСведенияОбИнвалидности");
    xml.close("fri:ПерсональныеДанные");
    xml.open("fri:ВсеДокументы", &[]);
    for &index in &checked.sections {
        render_section(&mut xml, input, checked, &SECTION_TYPES[index]);
    }
    xml.close("fri:ВсеДокументы");
    xml.close("fri:ВыпискаФРИ");
    Document {
        name: format!("fri-report-{}.xml", file_name_part(&input.report_id)),
        media_type: "application/xml".to_string(),
        bytes: xml.finish().into_bytes(),
    }
}

fn render_section(xml: &mut XmlWriter, input: &ReportInput, checked: &Checked, kind: &SectionType) {
    let id = uuid::v5_bytes(&format!("urn:ipra:fri:document:{}:{}", input.report_id, kind.section));
    let key = hex_upper(&id);
    xml.open("fri:Документ", &[]);
    xml.open("fri:РеквизитыДокумента", &[]);
    xml.leaf("fri:ID", &uuid::hyphenated(&id));
    xml.leaf("fri:Ключ", &key);
    xml.leaf("fri:РодительскийДокумент", input.ipra.document_id.trim());
    xml.open("fri:Источник", &[]);
    xml.leaf("fri:Код", SOURCE_CODE);
    xml.leaf("fri:Наименование", &input.reporter_name);
    xml.close("fri:Источник");
    xml.leaf("fri:Номер", &input.report_id);
    xml.leaf("fri:Дата", &checked.created_date);
    xml.leaf("fri:СрокДействия", "9999-12-31");
    xml.leaf("fri:ДатаРегистрации", &checked.created_time);
    xml.open("fri:ТипДокумента", &[]);
    xml.leaf("fri:КодВерсия", kind.code_version);
    xml.leaf("fri:Код", kind.code);
    xml.leaf("fri:Наименование", kind.name);
    xml.close("fri:ТипДокумента");
    xml.leaf("fri:ДокументОснование", "false");
    xml.leaf("fri:ДокументИсполнение", "true");
    xml.close("fri:РеквизитыДокумента");
    xml.open("fri:ВсеСведения", &[]);
    let entries = input.entries.iter().filter(|e| e.section == kind.section);
    for (index, entry) in entries.enumerate() {
        let entry_key = format!("{key}.{}", index + 1);
        let measure = entry
            .measure_key
            .as_deref()
            .and_then(|k| input.ipra.measures.iter().find(|m| m.key == k));
        let category = category_of(kind, entry, measure);
        let mut attributes: Vec<(&str, &str, &str, String)> = Vec::new();
        let (result_code, result_name) = match entry.status {
            ExecutionStatus::Executed => ("executed", "Выполнено"),
            ExecutionStatus::NotExecuted => ("not-executed", "Не выполнено"),
        };
        let mut push = |code: &'static str, name: &'static str, data_type: &'static str, value: &str| {
            attributes.push((code, name, data_type, value.to_string()));
        };
        push("ExecuteResultCode", "Результат исполнения (код)", "STRING", result_code);
        push("ExecuteResultName", "Результат исполнения", "STRING", result_name);
        push("EventName", "Наименование мероприятия", "STRING", &entry.measure_name);
        if let Some(key) = entry.measure_key.as_deref() {
            push("IPRAEventKey", "Ключ мероприятия в ИПРА", "STRING", key);
        }
        if let Some(guid) = measure.and_then(|m| m.guid.as_deref()).filter(|g| !g.trim().is_empty()) {
            push("EventGUID", "Идентификатор мероприятия в ИПРА", "STRING", guid);
        }
        let ogrn = entry.executor_ogrn.trim();
        push("ExecutorOGRN", "ОГРН исполнителя мероприятия", "STRING", ogrn);
        let executor = entry
            .executor_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| (ogrn == input.reporter_ogrn.trim()).then_some(input.reporter_name.as_str()));
        if let Some(name) = executor {
            push("Executor", "Наименование исполнителя мероприятия", "STRING", name);
        }
        if let Some(text) = entry.clarification.as_deref().filter(|c| !c.trim().is_empty()) {
            push("Clarification", "Уточнение мероприятия", "STRING", text);
        }
        if let ExecutionStatus::Executed = entry.status {
            let date = entry.execution_date.as_deref().unwrap_or_default().trim();
            push("ExecuteDate", "Дата исполнения мероприятия", "DATE", date);
            if let Some(text) = entry.comment.as_deref().filter(|c| !c.trim().is_empty()) {
                push("Comment", "Комментарий", "STRING", text);
            }
        }
        for (code, name, data_type) in PASSED_THROUGH {
            if let Some(value) = attribute(&entry.extra, code).filter(|v| !v.trim().is_empty()) {
                let value = if data_type == "STRING" { value } else { value.trim() };
                push(code, name, data_type, value);
            }
        }
        write_record(xml, category, &entry_key, "", &attributes);
        if let ExecutionStatus::NotExecuted = entry.status {
            let reasons = entry.reasons.iter().filter(|r| !r.trim().is_empty());
            for (number, reason) in reasons.enumerate() {
                let reason_attribute = [(
                    "NonExecutionReasonCode",
                    "Код причины неисполнения",
                    "STRING",
                    reason.trim().to_string(),
                )];
                let reason_key = format!("{entry_key}.{}", number + 1);
                write_record(xml, REASON, &reason_key, &entry_key, &reason_attribute);
            }
        }
    }
    xml.close("fri:ВсеСведения");
    xml.close("fri:Документ");
}

fn write_record(
    xml: &mut XmlWriter,
    category: Category,
    key: &str,
    parent: &str,
    attributes: &[(&str, &str, &str, String)],
) {
    xml.open("fri:Запись", &[]);
    xml.leaf("fri:ИдентификаторОбъекта", &category.object_id.to_string());
    xml.leaf("fri:Ключ", key);
    xml.leaf("fri:Родитель", parent);
    xml.open("fri:Категория", &[]);
    xml.leaf("fri:Код", category.code);
    xml.leaf("fri:Наименование", category.name);
    xml.leaf("fri:Назначение", PURPOSE);
    xml.close("fri:Категория");
    xml.open("fri:ВсеАтрибуты", &[]);
    for (code, name, kind, value) in attributes {
        xml.open("fri:Атрибут", &[]);
        xml.leaf("fri:Код", code);
        xml.leaf("fri:Наименование", name);
        xml.leaf("fri:ТипДанных", kind);
        xml.leaf("fri:Значение", value);
        xml.close("fri:Атрибут");
    }
    xml.close("fri:ВсеАтрибуты");
    xml.close("fri:Запись");
}

/// The record category of an entry: the section's, refined for social protection to the real RESOC categories
/// when the entry's name or its IPRA measure (name, category name, `GroupTypeName`) names the kind.
pub fn category_of(kind: &SectionType, entry: &ExecutionEntry, measure: Option<&Measure>) -> Category {
    if kind.section != "social-protection" {
        return kind.category;
    }
    let mut texts = vec![entry.measure_name.as_str()];
    if let Some(m) = measure {
        texts.push(m.name.as_str());
        texts.push(m.category_name.as_str());
        texts.extend(
            m.extra
                .iter()
                .filter(|a| a.code == "GroupTypeName")
                .map(|a| a.value.as_str()),
        );
    }
    for text in texts {
        let text = text.to_lowercase();
        if text.contains("средов") {
            return SOCIOENV;
        }
        if text.contains("психолог") {
            return SOCIOPSYCHOLOG;
        }
    }
    kind.category
}

fn render_request(input: &ReportInput, checked: &Checked) -> Document {
    let part = file_name_part(&input.report_id);
    let report_name = format!("fri-report-{part}.xml");
    let zip_name = format!("fri-report-{part}.zip");
    let package = uuid::v5(&format!("urn:ipra:fri:package:{}", input.report_id));
    let attachment = uuid::v5(&format!("urn:ipra:fri:attachment:{}", input.report_id));
    let types: Vec<&SectionType> = checked.sections.iter().map(|&i| &SECTION_TYPES[i]).collect();
    let (code, version) = match types.as_slice() {
        [only] => (only.code, only.code_version),
        _ => MIXED_PACKAGE,
    };
    let region = input
        .ipra
        .person
        .extra
        .iter()
        .chain(input.ipra.extra.iter())
        .filter(|a| a.code == "Регион" || a.code == "region")
        .map(|a| a.value.trim())
        .find(|v| !v.is_empty() && v.len() <= 3 && v.bytes().all(|c| c.is_ascii_digit()));

    let mut xml = XmlWriter::new();
    xml.open(
        "SmevRequestContent",
        &[
            ("xmlns", REQUEST_CONTENT_NAMESPACE),
            ("service", "DisabledDataRequest_1.0.7"),
            ("report", &input.report_id),
        ],
    );
    xml.open("MessagePrimaryContent", &[("xmlns", SMEV_BASIC_NAMESPACE)]);
    xml.open("tns:DisabledDataRequest", &[("xmlns:tns", DISABLED_DATA_NAMESPACE)]);
    xml.open("tns:AddPackage", &[]);
    xml.leaf("tns:PackageUUID", &package);
    xml.leaf("tns:DocTypeCode", code);
    xml.leaf("tns:DocTypeVersion", version);
    if let Some(region) = region {
        xml.leaf("tns:RegionCode", region);
    }
    xml.close("tns:AddPackage");
    xml.close("tns:DisabledDataRequest");
    xml.close("MessagePrimaryContent");
    xml.open("RefAttachmentHeaderList", &[("xmlns", SMEV_BASIC_NAMESPACE)]);
    xml.open("RefAttachmentHeader", &[]);
    xml.leaf("uuid", &attachment);
    xml.leaf("MimeType", "application/zip");
    xml.close("RefAttachmentHeader");
    xml.close("RefAttachmentHeaderList");
    xml.empty(
        "Attachment",
        &[
            ("uuid", &attachment),
            ("fileName", &zip_name),
            ("document", &report_name),
        ],
    );
    xml.close("SmevRequestContent");
    Document {
        name: format!("fri-request-{part}.xml"),
        media_type: "application/xml".to_string(),
        bytes: xml.finish().into_bytes(),
    }
}

// ---- values ----

fn attribute<'a>(extra: &'a [Attribute], code: &str) -> Option<&'a str> {
    extra.iter().find(|a| a.code == code).map(|a| a.value.as_str())
}

/// OGRN: 13 digits, last = (first 12 mod 11) mod 10; OGRNIP: 15 digits, last = (first 14 mod 13) mod 10.
fn check_ogrn(ogrn: &str) -> Result<(), (&'static str, &'static str)> {
    const FORMAT: (&str, &str) = ("ogrn-format", "нужно 13 цифр ОГРН или 15 цифр ОГРНИП");
    let modulus = match ogrn.len() {
        13 => 11,
        15 => 13,
        _ => return Err(FORMAT),
    };
    if !ogrn.bytes().all(|c| c.is_ascii_digit()) {
        return Err(FORMAT);
    }
    let (body, check) = ogrn.split_at(ogrn.len() - 1);
    let body: u64 = body.parse().map_err(|_| FORMAT)?;
    let check: u64 = check.parse().map_err(|_| FORMAT)?;
    if body % modulus % 10 == check {
        Ok(())
    } else {
        Err(("ogrn-checksum", "не сходится контрольная цифра"))
    }
}

/// Strict `YYYY-MM-DD` of a real calendar day.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(&text[0..4]), digits(&text[5..7]), digits(&text[8..10])) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day)
}

fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A decimal number as FRI writes NUMBER values (`1`, `1.0`, `-2.5`).
fn is_number(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

/// A date or date-time as (`YYYY-MM-DD`, `xs:dateTime`): a bare date gets `T00:00:00`, `hh:mm` gets `:00`, a space
/// may stand for `T`; fractions of a second and a zone (`Z`, `±hh:mm`) are kept.
fn date_time(text: &str) -> Option<(String, String)> {
    let text = text.trim();
    let date = text.get(..10)?;
    if !is_date(date) {
        return None;
    }
    let rest = &text[10..];
    if rest.is_empty() {
        return Some((date.to_string(), format!("{date}T00:00:00")));
    }
    let time = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let zone_at = time.find(['Z', '+', '-']).unwrap_or(time.len());
    let (clock, zone) = time.split_at(zone_at);
    let zone_ok = match zone {
        "" | "Z" => true,
        _ => {
            let z = &zone[1..];
            z.len() == 5
                && z.as_bytes()[2] == b':'
                && digits(&z[..2]).is_some_and(|h| h <= 14)
                && digits(&z[3..]).is_some_and(|m| m < 60)
        }
    };
    let (main, fraction) = match clock.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (clock, None),
    };
    let parts: Vec<&str> = main.split(':').collect();
    let two = |s: &str, limit: u32| s.len() == 2 && digits(s).is_some_and(|v| v < limit);
    let clock_ok = match parts.as_slice() {
        [h, m] => fraction.is_none() && two(h, 24) && two(m, 60),
        [h, m, s] => two(h, 24) && two(m, 60) && two(s, 60),
        _ => false,
    };
    let fraction_ok = fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()));
    if !(zone_ok && clock_ok && fraction_ok) {
        return None;
    }
    let seconds = if parts.len() == 2 { ":00" } else { "" };
    Some((date.to_string(), format!("{date}T{clock}{seconds}{zone}")))
}

/// A UUID as FRI writes a document `Ключ`: its 32 hex digits without dashes, upper case.
fn hex_upper(uuid: &[u8; 16]) -> String {
    uuid.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipra_plugin_sdk::bindings::ipra::plugin::types::{IpraExtract, Person};
    use quick_xml::events::Event;
    use std::path::PathBuf;

    const REPORTER: &str = "1027700132195";
    const EXECUTOR: &str = "1037739010891";
    const TRICKY: &str = "Курс «реабилитации» \"Шаг\" & <этап> 'второй'\r\n\tконец";

    fn measure(key: &str, section: &str, name: &str, guid: Option<&str>) -> Measure {
        Measure {
            key: key.to_string(),
            section: section.to_string(),
            category_code: "MSE.IPRA.REHAB".to_string(),
            category_name: String::new(),
            code: None,
            name: name.to_string(),
            guid: guid.map(str::to_string),
            executor_ogrn: None,
            executor_name: None,
            date_from: None,
            date_to: None,
            quantity: None,
            extra: Vec::new(),
        }
    }

    fn ipra() -> IpraExtract {
        IpraExtract {
            extract_id: "E-1".to_string(),
            document_id: "c4106520-d9cf-4fba-9144-4fa631acdf7d".to_string(),
            document_version: "IPRA_20221024".to_string(),
            number: "1234.5.45/2025".to_string(),
            protocol_number: "1234.5.45/2025".to_string(),
            protocol_date: "2025-01-10".to_string(),
            decision_date: Some("2025-01-10".to_string()),
            valid_until: Some("2026-02-01".to_string()),
            issued_by: Some("Бюро МСЭ № 5".to_string()),
            is_child: false,
            person: Person {
                snils: "11223344595".to_string(),
                surname: "Ёлкина".to_string(),
                given_name: "Анна-Мария".to_string(),
                patronymic: None,
                birth_date: Some("1970-05-01".to_string()),
                gender: Some("F".to_string()),
                territory_code: Some("45000".to_string()),
                address: None,
                extra: Vec::new(),
            },
            measures: vec![
                measure(
                    "1",
                    "health",
                    "Медицинская реабилитация",
                    Some("24544b28-e083-42b7-86bc-372d6293f2a6"),
                ),
                measure(
                    "4",
                    "social-protection",
                    "Социально-средовая реабилитация или абилитация",
                    None,
                ),
            ],
            extra: Vec::new(),
        }
    }

    fn executed(section: &str, name: &str) -> ExecutionEntry {
        ExecutionEntry {
            measure_key: None,
            section: section.to_string(),
            status: ExecutionStatus::Executed,
            measure_name: name.to_string(),
            executor_ogrn: EXECUTOR.to_string(),
            executor_name: Some("ГБУ «Центр & Ко»".to_string()),
            clarification: None,
            execution_date: Some("2025-02-15".to_string()),
            reasons: Vec::new(),
            comment: None,
            extra: Vec::new(),
        }
    }

    fn not_executed(section: &str, name: &str) -> ExecutionEntry {
        ExecutionEntry {
            status: ExecutionStatus::NotExecuted,
            execution_date: None,
            reasons: vec!["refused".to_string(), "moved".to_string()],
            ..executed(section, name)
        }
    }

    fn report(entries: Vec<ExecutionEntry>) -> ReportInput {
        ReportInput {
            report_id: "R-2025/7".to_string(),
            ipra: ipra(),
            entries,
            reporter_ogrn: REPORTER.to_string(),
            reporter_name: "Министерство социальной защиты \"Курганской\" области & Ко".to_string(),
            created: "2025-03-01T10:20:30".to_string(),
            sections: Vec::new(),
        }
    }

    /// Entries of all six sections, executed and not, with Cyrillic, quotes, `&`, `<` and line breaks.
    fn full_report() -> ReportInput {
        let mut health = executed("health", TRICKY);
        health.measure_key = Some("1".to_string());
        health.clarification = Some("Уточнение: «стационар» & \"дневной\"".to_string());
        health.comment = Some("Выполнено в срок <полностью>".to_string());
        let mut social = executed("social-protection", "Социально-средовая реабилитация");
        social.measure_key = Some("4".to_string());
        social.executor_ogrn = REPORTER.to_string();
        social.executor_name = None;
        social.extra = vec![
            Attribute {
                code: "Type".to_string(),
                value: "1.0".to_string(),
            },
            Attribute {
                code: "ExecuteDocRequisitesDate".to_string(),
                value: "2025-01-20".to_string(),
            },
            Attribute {
                code: "ExecuteDocRequisitesName".to_string(),
                value: "Контракт №001-79/18 от 20.01.2025".to_string(),
            },
            Attribute {
                code: "ignored".to_string(),
                value: "x".to_string(),
            },
        ];
        let mut psych = not_executed("social-protection", "Социально-психологическая помощь");
        psych.clarification = Some("Гражданин уехал & не вернулся".to_string());
        report(vec![
            health,
            not_executed("employment", "Профессиональная ориентация"),
            executed("education", "Психолого-педагогическая помощь"),
            social,
            psych,
            executed("sport", "Адаптивная физическая культура"),
            not_executed("tsr", "Кресло-коляска с ручным приводом"),
            executed("tsr", "Трость опорная"),
        ])
    }

    fn text(document: &Document) -> String {
        String::from_utf8(document.bytes.clone()).expect("UTF-8")
    }

    /// The shared format files sit beside the project (`../shared`); found from this crate upwards.
    fn shared_file(relative: &str) -> PathBuf {
        let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        start
            .ancestors()
            .map(|dir| dir.join("shared").join(relative))
            .find(|path| path.exists())
            .unwrap_or_else(|| panic!("../shared/{relative} not found above {}", start.display()))
    }

    fn xmllint(document: &Document, schema: Option<PathBuf>) -> std::process::Output {
        // Tests run in parallel and render the same names: every call gets a folder of its own, removed after.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ipra-fri-export-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(&document.name);
        std::fs::write(&path, &document.bytes).expect("write");
        let mut command = std::process::Command::new("xmllint");
        command.arg("--noout");
        if let Some(schema) = schema {
            command.arg("--schema").arg(schema);
        }
        let output = command
            .arg(&path)
            .output()
            .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
        let _ = std::fs::remove_dir_all(&dir);
        output
    }

    fn assert_xmllint_ok(document: &Document, schema: Option<PathBuf>) {
        let output = xmllint(document, schema);
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            text(document)
        );
    }

    /// Every leaf element as (local name, text with references resolved); panics when not well-formed.
    fn leaves(document: &Document) -> Vec<(String, String)> {
        let xml = text(document);
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut out = Vec::new();
        let mut current = String::new();
        let mut value = String::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => {
                    current = e.local_name().into_inner().to_string();
                    value.clear();
                }
                Event::Text(t) => value.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => match r.resolve_char_ref().expect("char ref") {
                    Some(c) => value.push(c),
                    None => value.push(match &*r.xml10_content() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity {other}"),
                    }),
                },
                Event::End(e) => {
                    let name = e.local_name().into_inner().to_string();
                    if name == current {
                        out.push((name, std::mem::take(&mut value)));
                    }
                    current.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    fn values<'a>(leaves: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        leaves
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Значение` of every attribute with this `Код`, in document order.
    fn attribute_values(leaves: &[(String, String)], code: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut pending = false;
        for (name, value) in leaves {
            match name.as_str() {
                "Код" => pending = value == code,
                "Значение" if pending => {
                    out.push(value.clone());
                    pending = false;
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn report_of_all_six_sections_validates_against_the_fri_schema() {
        let documents = export_report(&full_report()).expect("rendered");
        assert_eq!(documents.len(), 2);
        let report = &documents[0];
        assert_eq!(report.name, "fri-report-R-2025_7.xml");
        assert_eq!(report.media_type, "application/xml");
        assert_xmllint_ok(report, Some(shared_file("formats/fri/fri-extract-schema-v1.5.xsd")));

        let leaves = leaves(report);
        assert_eq!(
            values(&leaves, "КодВерсия"),
            [
                "REMED_20250101",
                "REEMPL_20250101",
                "REEDU_20250101",
                "RESOC_20180416",
                "RESPORT_20250101",
                "RETSR_20250101"
            ]
        );
        assert_eq!(values(&leaves, "СНИЛС"), ["112-233-445 95"]);
        assert_eq!(values(&leaves, "Фамилия"), ["ЁЛКИНА"]);
        assert_eq!(values(&leaves, "Имя"), ["АННА-МАРИЯ"]);
        assert_eq!(values(&leaves, "Отчество"), [""]);
        assert_eq!(values(&leaves, "Пол"), ["F"]);
        assert_eq!(values(&leaves, "ВремяФормирования"), ["2025-03-01T10:20:30"]);
        assert_eq!(values(&leaves, "Потребитель"), [CONSUMER]);
        assert!(values(&leaves, "РодительскийДокумент")
            .iter()
            .all(|v| *v == "c4106520-d9cf-4fba-9144-4fa631acdf7d"));
        assert_eq!(values(&leaves, "ДокументИсполнение"), ["true"; 6]);
        assert_eq!(values(&leaves, "ДокументОснование"), ["false"; 6]);

        // Texts exactly as given, whatever XML makes of them.
        let names = attribute_values(&leaves, "EventName");
        assert_eq!(names.len(), 8);
        assert_eq!(names[0], TRICKY);
        assert_eq!(
            attribute_values(&leaves, "Clarification"),
            ["Уточнение: «стационар» & \"дневной\"", "Гражданин уехал & не вернулся"]
        );
        assert_eq!(attribute_values(&leaves, "Comment"), ["Выполнено в срок <полностью>"]);
        assert!(values(&leaves, "Наименование").contains(&"Министерство социальной защиты \"Курганской\" области & Ко"));

        // Status, dates, reasons, keys and executors.
        assert_eq!(
            attribute_values(&leaves, "ExecuteResultCode"),
            [
                "executed",
                "not-executed",
                "executed",
                "executed",
                "not-executed",
                "executed",
                "not-executed",
                "executed"
            ]
        );
        assert_eq!(attribute_values(&leaves, "ExecuteDate").len(), 5);
        assert_eq!(
            attribute_values(&leaves, "NonExecutionReasonCode"),
            ["refused", "moved", "refused", "moved", "refused", "moved"]
        );
        assert_eq!(attribute_values(&leaves, "IPRAEventKey"), ["1", "4"]);
        assert_eq!(
            attribute_values(&leaves, "EventGUID"),
            ["24544b28-e083-42b7-86bc-372d6293f2a6"]
        );
        let executors = attribute_values(&leaves, "Executor");
        assert_eq!(executors[0], "ГБУ «Центр & Ко»");
        assert!(executors.contains(&"Министерство социальной защиты \"Курганской\" области & Ко".to_string()));
        assert_eq!(attribute_values(&leaves, "Type"), ["1.0"]);
        assert_eq!(attribute_values(&leaves, "ExecuteDocRequisitesDate"), ["2025-01-20"]);
        assert!(attribute_values(&leaves, "ignored").is_empty());

        // Categories: the real RESOC ones where the kind is named, ours elsewhere; reasons are child records.
        let categories = values(&leaves, "Код");
        for code in [
            "IPRAEXEC.REHAB.MED",
            "IPRAEXEC.REHAB.PROF",
            "IPRAEXEC.REHAB.PSYCHOPED",
            "IPRAEXEC.REHAB.SOCIOENV",
            "IPRAEXEC.REHAB.SOCIOPSYCHOLOG",
            "IPRAEXEC.REHAB.PHYSCULT",
            "IPRAEXEC.TSR",
            "IPRAEXEC.NONEXECREASON",
        ] {
            assert!(categories.contains(&code), "{code}");
        }
        let parents: Vec<&str> = values(&leaves, "Родитель")
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        assert_eq!(parents.len(), 6);
        let keys = values(&leaves, "Ключ");
        assert!(parents.iter().all(|p| keys.contains(p)));
    }

    #[test]
    fn only_sections_with_entries_have_documents() {
        let documents = export_report(&report(vec![executed("sport", "Плавание")])).expect("rendered");
        let leaves = leaves(&documents[0]);
        assert_eq!(values(&leaves, "КодВерсия"), ["RESPORT_20250101"]);
        assert_xmllint_ok(
            &documents[0],
            Some(shared_file("formats/fri/fri-extract-schema-v1.5.xsd")),
        );
    }

    #[test]
    fn request_is_well_formed_and_names_the_package() {
        let input = full_report();
        let documents = export_report(&input).expect("rendered");
        let request = &documents[1];
        assert_eq!(request.name, "fri-request-R-2025_7.xml");
        assert_xmllint_ok(request, None);
        let leaves = leaves(request);
        let package = uuid::v5("urn:ipra:fri:package:R-2025/7");
        assert_eq!(values(&leaves, "PackageUUID"), [package.as_str()]);
        assert_eq!(values(&leaves, "DocTypeCode"), ["IPRAEXEC"]);
        assert_eq!(values(&leaves, "DocTypeVersion"), ["IPRAEXEC_20250101"]);
        assert_eq!(values(&leaves, "MimeType"), ["application/zip"]);
        assert!(values(&leaves, "RegionCode").is_empty());
        let xml = text(request);
        assert!(xml.contains("<tns:DisabledDataRequest xmlns:tns=\"http://kvs.fri.com/disabled-data/1.0.7\">"));
        assert!(xml.contains("<tns:AddPackage>"));
        let attachment = uuid::v5("urn:ipra:fri:attachment:R-2025/7");
        assert_eq!(values(&leaves, "uuid"), [attachment.as_str()]);
        assert!(xml.contains(&format!(
            "<Attachment uuid=\"{attachment}\" fileName=\"fri-report-R-2025_7.zip\" document=\"{}\"/>",
            documents[0].name
        )));
    }

    #[test]
    fn a_one_type_package_is_named_by_its_type_and_carries_the_region() {
        let mut input = report(vec![not_executed(
            "social-protection",
            "Социально-бытовая реабилитация",
        )]);
        input.ipra.person.extra.push(Attribute {
            code: "Регион".to_string(),
            value: "45".to_string(),
        });
        let documents = export_report(&input).expect("rendered");
        let leaves = leaves(&documents[1]);
        assert_eq!(values(&leaves, "DocTypeCode"), ["RESOC"]);
        assert_eq!(values(&leaves, "DocTypeVersion"), ["RESOC_20180416"]);
        assert_eq!(values(&leaves, "RegionCode"), ["45"]);
        let report_leaves = self::leaves(&documents[0]);
        assert!(values(&report_leaves, "Код").contains(&"IPRAEXEC.REHAB.SOCIAL"));
    }

    #[test]
    fn output_is_deterministic_and_ids_follow_the_report() {
        let first = export_report(&full_report()).expect("rendered");
        let second = export_report(&full_report()).expect("rendered");
        let bytes = |documents: &[Document]| {
            documents
                .iter()
                .map(|d| (d.name.clone(), d.bytes.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(bytes(&first), bytes(&second));
        let report_id = uuid::v5("urn:ipra:fri:report:R-2025/7");
        assert!(text(&first[0]).contains(&format!("<fri:Идентификатор>{report_id}</fri:Идентификатор>")));
        let mut other = full_report();
        other.report_id = "R-2025/8".to_string();
        let third = export_report(&other).expect("rendered");
        assert_ne!(first[0].bytes, third[0].bytes);
        assert_ne!(first[1].bytes, third[1].bytes);
    }

    #[test]
    fn uuids_are_rfc_4122_version_5() {
        // Python: uuid.uuid5(uuid.NAMESPACE_URL, "urn:ipra:fri:report:R-1")
        assert_eq!(
            uuid::v5("urn:ipra:fri:report:R-1"),
            "41ae340f-a658-5eca-9665-75a5cbdba864"
        );
        assert_eq!(
            uuid::v5("urn:ipra:fri:package:R-1"),
            "04dc40d5-21dc-54b3-b899-40138233ff53"
        );
    }

    #[test]
    fn creation_dates_become_date_times() {
        let cases = [
            ("2025-03-01", Some("2025-03-01T00:00:00")),
            ("2025-03-01T10:20", Some("2025-03-01T10:20:00")),
            ("2025-03-01 10:20:30.125+03:00", Some("2025-03-01T10:20:30.125+03:00")),
            ("2025-03-01T10:20:30Z", Some("2025-03-01T10:20:30Z")),
            ("2025-02-29", None),
            ("2025-03-01T25:00:00", None),
            ("01.03.2025", None),
            ("2025-03-01T10", None),
        ];
        for (input, expected) in cases {
            assert_eq!(date_time(input).map(|(_, t)| t).as_deref(), expected, "{input}");
        }
        let mut input = full_report();
        input.created = "2024-02-29".to_string();
        let documents = export_report(&input).expect("rendered");
        assert_xmllint_ok(
            &documents[0],
            Some(shared_file("formats/fri/fri-extract-schema-v1.5.xsd")),
        );
    }

    /// The error for a report changed by `change`.
    fn error(change: impl FnOnce(&mut ReportInput)) -> PluginError {
        let mut input = full_report();
        change(&mut input);
        export_report(&input).expect_err("refused")
    }

    fn assert_error(error: PluginError, code: &str, field: &str, record: &str) {
        assert_eq!(
            (error.code.as_str(), error.field.as_deref(), error.record.as_deref()),
            (code, Some(field), Some(record)),
            "{}",
            error.message
        );
        assert!(
            error.message.chars().any(|c| ('а'..='я').contains(&c)),
            "{}",
            error.message
        );
    }

    #[test]
    fn no_entries_is_refused() {
        assert_error(
            error(|r| r.entries.clear()),
            "no-entries",
            "Мероприятия",
            "Отчёт R-2025/7",
        );
    }

    #[test]
    fn executed_without_date_and_not_executed_without_reasons_are_refused() {
        assert_error(
            error(|r| r.entries[0].execution_date = Some("  ".to_string())),
            "missing-field",
            "Дата",
            "Мероприятие 1 (мероприятие ИПРА 1)",
        );
        assert_error(
            error(|r| r.entries[2].execution_date = Some("15.02.2025".to_string())),
            "date-format",
            "Дата",
            "Мероприятие 3",
        );
        assert_error(
            error(|r| r.entries[1].reasons.clear()),
            "missing-field",
            "Причины неисполнения",
            "Мероприятие 2",
        );
        assert_error(
            error(|r| r.entries[1].reasons = vec![" ".to_string()]),
            "missing-field",
            "Причины неисполнения",
            "Мероприятие 2",
        );
        assert_error(
            error(|r| r.entries[2].reasons = vec!["refused".to_string()]),
            "reasons-not-allowed",
            "Причины неисполнения",
            "Мероприятие 3",
        );
        assert_error(
            error(|r| r.entries[1].comment = Some("нет".to_string())),
            "comment-not-allowed",
            "Комментарий",
            "Мероприятие 2",
        );
    }

    #[test]
    fn blank_identity_fields_are_refused() {
        let record = "ИПРА № 1234.5.45/2025";
        assert_error(
            error(|r| r.report_id = " ".to_string()),
            "missing-field",
            "Идентификатор отчёта",
            record,
        );
        assert_error(
            error(|r| r.ipra.document_id = String::new()),
            "missing-field",
            "Идентификатор документа ИПРА",
            record,
        );
        assert_error(
            error(|r| r.ipra.person.surname = "\t".to_string()),
            "missing-field",
            "Фамилия",
            record,
        );
        assert_error(
            error(|r| r.ipra.person.given_name = String::new()),
            "missing-field",
            "Имя",
            record,
        );
        assert_error(
            error(|r| r.reporter_name = String::new()),
            "missing-field",
            "Наименование отчитывающейся организации",
            record,
        );
        assert_error(
            error(|r| r.ipra.person.birth_date = None),
            "missing-field",
            "Дата рождения",
            record,
        );
        assert_error(
            error(|r| r.ipra.person.birth_date = Some("1970-13-01".to_string())),
            "date-format",
            "Дата рождения",
            record,
        );
        assert_error(
            error(|r| r.ipra.person.gender = Some("X".to_string())),
            "gender-format",
            "Пол",
            record,
        );
    }

    #[test]
    fn a_snils_that_is_not_eleven_digits_is_refused() {
        let record = "ИПРА № 1234.5.45/2025";
        for snils in ["1122334459", "112-233-445 95", "12А23344595", "", "112233445951"] {
            assert_error(
                error(|r| r.ipra.person.snils = snils.to_string()),
                "snils-format",
                "СНИЛС",
                record,
            );
        }
    }

    #[test]
    fn bad_organisations_sections_and_values_are_refused() {
        assert_error(
            error(|r| r.reporter_ogrn = "123".to_string()),
            "ogrn-format",
            "ОГРН отчитывающейся организации",
            "Отчёт R-2025/7",
        );
        assert_error(
            error(|r| r.created = "вчера".to_string()),
            "date-format",
            "Дата формирования отчёта",
            "Отчёт R-2025/7",
        );
        assert_error(
            error(|r| r.entries[2].executor_ogrn = "1027700132196".to_string()),
            "ogrn-checksum",
            "ОГРН исполнителя",
            "Мероприятие 3",
        );
        assert_error(
            error(|r| r.entries[2].executor_ogrn = " ".to_string()),
            "missing-field",
            "ОГРН исполнителя",
            "Мероприятие 3",
        );
        assert_error(
            error(|r| r.entries[2].measure_name = " ".to_string()),
            "missing-field",
            "Наименование мероприятия",
            "Мероприятие 3",
        );
        assert_error(
            error(|r| r.entries[2].section = "culture".to_string()),
            "section-unknown",
            "Раздел",
            "Мероприятие 3",
        );
        assert_error(
            error(|r| r.entries[3].extra[0].value = "первый".to_string()),
            "number-format",
            "Вид реабилитации/абилитации",
            "Мероприятие 4 (мероприятие ИПРА 4)",
        );
        assert_error(
            error(|r| r.entries[3].extra[1].value = "20.01.2025".to_string()),
            "date-format",
            "Дата документа \"от\"",
            "Мероприятие 4 (мероприятие ИПРА 4)",
        );
    }
}
