//! «Задания»: the scheduled jobs, their runs, a manual run and a dry run that shows what a run
//! would change, retry/discard of failed runs, adding and editing a job with its cron schedule.

use super::{
    alert, allow, allow_write, button_form, done_notice, dt, dt_opt, field, input, select, Fields, ADMIN, MANAGERS,
    VIEWERS,
};
use crate::app::App;
use crate::auth::Principal;
use crate::scheduler::instance_name;
use crate::scheduler::{self, Job, RunView};
use crate::ui::{csrf_field, esc, page, urlencode, PageError, PageUser};
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/jobs", get(list).post(add))
        .route("/admin/jobs/{name}", get(show).post(edit))
        .route("/admin/jobs/{name}/run", post(run))
        .route("/admin/jobs/{name}/dry-run", post(dry_run))
        .route("/admin/job-runs/{id}/retry", post(retry))
        .route("/admin/job-runs/{id}/discard", post(discard))
}

pub fn status_label(status: &str) -> &str {
    match status {
        "running" => "выполняется",
        "succeeded" => "успешно",
        "retrying" => "ждёт повтора",
        "failed" => "ошибка",
        "discarded" => "отклонён",
        "retried" => "повторён",
        other => other,
    }
}

fn status_class(status: &str) -> &'static str {
    match status {
        "succeeded" => "ok",
        "failed" => "bad",
        "retrying" => "warn",
        _ => "",
    }
}

fn counts_text(run: &RunView) -> String {
    match run.counts.as_object() {
        Some(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| format!("{}: {}", esc(k), esc(&v.to_string())))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "—".into(),
    }
}

fn errors_text(run: &RunView) -> String {
    let errors: Vec<String> = run
        .errors
        .as_array()
        .map(|a| a.iter().filter_map(|e| e.as_str()).map(esc).collect())
        .unwrap_or_default();
    if errors.is_empty() {
        "—".into()
    } else {
        format!(r#"<span class="bad">{}</span>"#, errors.join("<br>"))
    }
}

/// The job form's values and errors (add and edit share it).
#[derive(Default)]
struct JobForm {
    name: String,
    kind: String,
    schedule: String,
    config: String,
    enabled: bool,
    errors: Vec<(&'static str, String)>,
}

impl JobForm {
    fn error(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(k, _)| *k == name).map(|(_, e)| e.as_str())
    }

    fn from_fields(fields: &Fields) -> JobForm {
        JobForm {
            name: field(fields, "name").to_string(),
            kind: field(fields, "kind").to_string(),
            schedule: field(fields, "schedule").to_string(),
            config: Some(field(fields, "config"))
                .filter(|c| !c.is_empty())
                .unwrap_or("{}")
                .to_string(),
            enabled: field(fields, "enabled") == "1",
            errors: Vec::new(),
        }
    }

    /// Checks what the scheduler would refuse, naming the field, so nothing is half-written.
    fn validate(&mut self, adding: bool, kinds: &[(String, String)]) {
        if adding {
            if self.name.is_empty()
                || !self
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                self.errors
                    .push(("name", "Имя: только строчные латинские буквы, цифры и «-»".into()));
            }
            if !kinds.iter().any(|(k, _)| *k == self.kind) {
                self.errors.push(("kind", "Вид: выберите вид задания из списка".into()));
            }
        }
        if self.schedule.is_empty() {
            self.errors.push(("schedule", "Расписание: не указано".into()));
        } else if let Err(e) = scheduler::parse_schedule(&self.schedule) {
            self.errors.push((
                "schedule",
                format!("Расписание: {e:#}. Пример: «*/15 * * * *» — каждые 15 минут"),
            ));
        }
        if serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&self.config).is_err() {
            self.errors
                .push(("config", "Настройки: нужен объект JSON, например {}".into()));
        }
    }
}

fn job_form(user: &Principal, form: &JobForm, adding: bool, kinds: &[(String, String)]) -> String {
    let action = if adding {
        "/admin/jobs".to_string()
    } else {
        format!("/admin/jobs/{}", urlencode(&form.name))
    };
    let mut out = format!(
        r#"<form method="post" action="{action}" class="stack adm-job-form">{}"#,
        csrf_field(user)
    );
    if adding {
        out.push_str(&input(
            "name",
            "Имя задания",
            &form.name,
            form.error("name"),
            "required",
        ));
        let kinds: Vec<(String, String)> = kinds
            .iter()
            .map(|(k, label)| (k.clone(), format!("{label} ({k})")))
            .collect();
        out.push_str(&select("kind", "Вид", &kinds, &form.kind, form.error("kind")));
    }
    out.push_str(&input(
        "schedule",
        "Расписание (cron: минута час день месяц день-недели)",
        &form.schedule,
        form.error("schedule"),
        r#"required spellcheck="false""#,
    ));
    let (described, message) = match form.error("config") {
        Some(e) => (
            r#" aria-invalid="true" aria-describedby="e-config""#.to_string(),
            format!(
                r#"<span class="field-error" id="e-config" role="alert">{}</span>"#,
                esc(e)
            ),
        ),
        None => (String::new(), String::new()),
    };
    out.push_str(&format!(
        r#"<label for="f-config">Настройки (JSON)<textarea id="f-config" name="config" rows="3" spellcheck="false"{described}>{}</textarea>{message}</label>"#,
        esc(&form.config)
    ));
    if !adding {
        out.push_str(&format!(
            r#"<label for="f-enabled" class="adm-check"><input type="checkbox" id="f-enabled" name="enabled" value="1"{}> Задание включено (запускается по расписанию)</label>"#,
            if form.enabled { " checked" } else { "" }
        ));
    }
    out.push_str(&format!(
        r#"<div class="actions"><button type="submit">{}</button></div></form>"#,
        if adding {
            "Добавить задание"
        } else {
            "Сохранить"
        }
    ));
    out
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    done: Option<String>,
}

async fn list(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    list_page(&app, &user, q.done.as_deref(), None, JobForm::default()).await
}

async fn list_page(
    app: &App,
    user: &Principal,
    done: Option<&str>,
    problem: Option<String>,
    form: JobForm,
) -> Result<Html<String>, PageError> {
    scheduler::seed_jobs(app).await?;
    let jobs = scheduler::list_jobs(app).await?;
    let failed = scheduler::failed_runs(app).await?;
    let mut body = String::from("<h1>Задания</h1>");
    body.push_str(&done_notice(done));
    if let Some(p) = problem {
        body.push_str(&alert(&p));
    }
    body.push_str(
        r#"<div class="table-wrap"><table class="adm-jobs"><thead><tr><th>Задание</th><th>Вид</th><th>Расписание</th><th>Включено</th><th class="hide-narrow">Следующий запуск</th><th>Последний запуск</th></tr></thead><tbody>"#,
    );
    for job in &jobs {
        body.push_str(&job_row(job, &job.label));
    }
    body.push_str("</tbody></table></div>");
    body.push_str("<h2>Неудачные запуски</h2>");
    if failed.is_empty() {
        body.push_str(r#"<p class="muted">Неудачных запусков, ждущих решения, нет.</p>"#);
    } else {
        body.push_str(&runs_table(user, &failed, None, true));
    }
    if user.can_write() && ADMIN.contains(&user.role) {
        body.push_str(r#"<h2 id="add">Новое задание</h2>"#);
        body.push_str(&job_form(user, &form, true, &scheduler::kinds(app)));
    }
    Ok(page(Some(user), "Задания", &body))
}

fn job_row(job: &Job, label: &str) -> String {
    let last = match &job.last_run {
        Some(r) => format!(
            r#"<span class="{}">{}</span> · {}{}"#,
            status_class(&r.status),
            status_label(&r.status),
            dt(&r.started_at),
            if r.dry_run { " (пробный)" } else { "" }
        ),
        None => "не запускалось".into(),
    };
    format!(
        r#"<tr id="job-{n}"><td><a href="/admin/jobs/{u}">{n}</a></td><td>{}</td><td><code>{}</code></td><td>{}</td><td class="hide-narrow">{}</td><td>{last}</td></tr>"#,
        esc(label),
        esc(&job.schedule),
        if job.enabled {
            "да"
        } else {
            "<span class=\"warn\">нет</span>"
        },
        if job.enabled {
            dt_opt(&job.next_run)
        } else {
            "—".into()
        },
        n = esc(&job.name),
        u = urlencode(&job.name),
    )
}

fn runs_table(user: &Principal, runs: &[RunView], highlight: Option<i64>, with_job: bool) -> String {
    let decide = user.can_write() && ADMIN.contains(&user.role);
    let mut out = String::from(r#"<div class="table-wrap"><table class="adm-runs"><thead><tr><th>№</th>"#);
    if with_job {
        out.push_str("<th>Задание</th>");
    }
    out.push_str(
        r#"<th>Начало</th><th class="hide-narrow">Окончание</th><th>Режим</th><th>Статус</th><th>Счётчики</th><th>Ошибки</th><th class="hide-narrow">Кто запустил</th>"#,
    );
    if decide {
        out.push_str("<th>Решение</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for r in runs {
        let mark = if highlight == Some(r.id) {
            r#" class="adm-current""#
        } else {
            ""
        };
        out.push_str(&format!(r#"<tr id="run-{}"{mark}><td>{}</td>"#, r.id, r.id));
        if with_job {
            out.push_str(&format!(
                r#"<td><a href="/admin/jobs/{}">{}</a></td>"#,
                urlencode(&r.job),
                esc(&r.job)
            ));
        }
        out.push_str(&format!(
            r#"<td>{}</td><td class="hide-narrow">{}</td><td>{}</td><td class="{}">{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td>"#,
            dt(&r.started_at),
            dt_opt(&r.finished_at),
            if r.dry_run { "пробный" } else { "рабочий" },
            status_class(&r.status),
            status_label(&r.status),
            counts_text(r),
            errors_text(r),
            esc(&r.trigger),
        ));
        if decide {
            let actions = if matches!(r.status.as_str(), "failed" | "retrying") {
                format!(
                    "{}{}",
                    button_form(user, &format!("/admin/job-runs/{}/retry", r.id), "Повторить", "", None),
                    button_form(
                        user,
                        &format!("/admin/job-runs/{}/discard", r.id),
                        "Отклонить",
                        "secondary",
                        None
                    )
                )
            } else {
                "—".into()
            };
            out.push_str(&format!("<td>{actions}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

#[derive(serde::Deserialize, Default)]
struct ShowQuery {
    done: Option<String>,
    run: Option<i64>,
}

async fn show(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(name): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    job_page(&app, &user, &name, q.done.as_deref(), q.run, None, None).await
}

async fn find_job(app: &App, user: &Principal, name: &str) -> Result<Job, PageError> {
    scheduler::seed_jobs(app).await?;
    scheduler::list_jobs(app)
        .await?
        .into_iter()
        .find(|j| j.name == name)
        .ok_or_else(|| PageError::not_found("Задание").for_user(user))
}

async fn job_page(
    app: &App,
    user: &Principal,
    name: &str,
    done: Option<&str>,
    highlight: Option<i64>,
    problem: Option<String>,
    form: Option<JobForm>,
) -> Result<Html<String>, PageError> {
    let job = find_job(app, user, name).await?;
    let history = scheduler::history(app, name, 50).await?;
    let title = format!("Задание «{}»", job.name);
    let mut body = format!(
        r#"<p><a href="/admin/jobs">← Все задания</a></p><h1>{}</h1>"#,
        esc(&title)
    );
    body.push_str(&done_notice(done));
    if let Some(p) = problem {
        body.push_str(&alert(&p));
    }
    if let Some(run) = highlight.and_then(|id| history.iter().find(|r| r.id == id)) {
        let heading = if run.dry_run {
            "Пробный запуск: что изменил бы рабочий запуск (ничего не записано)"
        } else {
            "Результат запуска"
        };
        body.push_str(&format!(
            r#"<section class="adm-run-result {}" aria-live="polite"><h2>{heading}</h2><p>Статус: <strong>{}</strong>. Счётчики: {}.</p>"#,
            if run.status == "succeeded" { "notice" } else { "alert" },
            status_label(&run.status),
            counts_text(run)
        ));
        let report = run.report.as_deref().unwrap_or_default();
        if report.trim().is_empty() {
            body.push_str("<p>Изменений нет.</p>");
        } else {
            body.push_str("<ul>");
            for line in report.lines().filter(|l| !l.trim().is_empty()) {
                body.push_str(&format!("<li>{}</li>", esc(line)));
            }
            body.push_str("</ul>");
        }
        body.push_str(&format!("<p>Ошибки: {}</p></section>", errors_text(run)));
    }
    body.push_str(&format!(
        "<dl><dt>Вид</dt><dd>{}</dd><dt>Расписание</dt><dd><code>{}</code></dd><dt>Включено</dt><dd>{}</dd><dt>Следующий запуск</dt><dd>{}</dd><dt>Попыток при ошибке</dt><dd>{}, пауза {} с (удваивается)</dd></dl>",
        esc(&job.label),
        esc(&job.schedule),
        if job.enabled { "да" } else { "нет" },
        if job.enabled { dt_opt(&job.next_run) } else { "—".into() },
        job.max_attempts,
        job.backoff_seconds
    ));
    if user.can_write() && MANAGERS.contains(&user.role) {
        body.push_str(&format!(
            r#"<div class="actions adm-run-actions">{}{}</div>"#,
            button_form(
                user,
                &format!("/admin/jobs/{}/run", urlencode(name)),
                "Запустить",
                "",
                None
            ),
            button_form(
                user,
                &format!("/admin/jobs/{}/dry-run", urlencode(name)),
                "Пробный запуск (холостой)",
                "secondary",
                None
            ),
        ));
    }
    body.push_str("<h2>История запусков</h2>");
    if history.is_empty() {
        body.push_str(r#"<p class="muted">Задание ещё не запускалось.</p>"#);
    } else {
        body.push_str(&runs_table(user, &history, highlight, false));
    }
    if user.can_write() && ADMIN.contains(&user.role) {
        body.push_str("<h2>Изменить задание</h2>");
        let form = form.unwrap_or_else(|| JobForm {
            name: job.name.clone(),
            kind: job.kind.clone(),
            schedule: job.schedule.clone(),
            config: job.config.to_string(),
            enabled: job.enabled,
            errors: Vec::new(),
        });
        body.push_str(&job_form(user, &form, false, &scheduler::kinds(app)));
    }
    Ok(page(Some(user), &title, &body))
}

async fn add(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    let mut form = JobForm::from_fields(&fields);
    form.validate(true, &scheduler::kinds(&app));
    if form.errors.is_empty() {
        match scheduler::add_job(
            &app,
            &form.name,
            &form.kind,
            &form.schedule,
            &form.config,
            &user.actor(),
        )
        .await
        {
            Ok(()) => {
                return Ok(
                    Redirect::to(&format!("/admin/jobs/{}?done=job-added", urlencode(&form.name))).into_response(),
                )
            }
            Err(e) => form.errors.push(("name", format!("Имя: {e:#}"))),
        }
    }
    let mut html = list_page(
        &app,
        &user,
        None,
        Some("Задание не добавлено: исправьте отмеченные поля.".into()),
        form,
    )
    .await?;
    html.0 = html.0.replace("<h2 id=\"add\">", "<h2 id=\"add\" tabindex=\"-1\">");
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
}

async fn edit(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    let job = find_job(&app, &user, &name).await?;
    let mut form = JobForm::from_fields(&fields);
    form.name = job.name.clone();
    form.kind = job.kind.clone();
    form.validate(false, &scheduler::kinds(&app));
    if form.errors.is_empty() {
        scheduler::configure(
            &app,
            &name,
            Some(&form.schedule),
            Some(form.enabled),
            Some(&form.config),
            &user.actor(),
        )
        .await?;
        return Ok(Redirect::to(&format!("/admin/jobs/{}?done=job-saved", urlencode(&name))).into_response());
    }
    let html = job_page(
        &app,
        &user,
        &name,
        None,
        None,
        Some("Задание не сохранено: исправьте отмеченные поля.".into()),
        Some(form),
    )
    .await?;
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
}

/// Starts a run now (the page and the API): the coordinator and the administrator may.
pub async fn start(app: &App, user: &Principal, name: &str, dry_run: bool) -> anyhow::Result<RunView> {
    let run = scheduler::run_job(
        app,
        name,
        &format!("вручную ({})", user.login),
        dry_run,
        1,
        &instance_name(),
    )
    .await?;
    let action = if dry_run { "job.dry-run" } else { "job.run" };
    crate::audit::record(
        &app.db,
        &user.actor(),
        action,
        &format!("job:{name}"),
        Some(&format!("запуск {}", run.id)),
    )
    .await?;
    Ok(run)
}

async fn start_page(
    app: App,
    user: Principal,
    name: String,
    fields: Fields,
    dry_run: bool,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    find_job(&app, &user, &name).await?;
    match start(&app, &user, &name, dry_run).await {
        Ok(run) => {
            Ok(Redirect::to(&format!("/admin/jobs/{}?run={}#content", urlencode(&name), run.id)).into_response())
        }
        Err(e) => {
            let html = job_page(
                &app,
                &user,
                &name,
                None,
                None,
                Some(format!("Запуск не выполнен: {e:#}")),
                None,
            )
            .await?;
            Ok((axum::http::StatusCode::CONFLICT, html).into_response())
        }
    }
}

async fn run(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    start_page(app, user, name, fields, false).await
}

async fn dry_run(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    start_page(app, user, name, fields, true).await
}

async fn decide(app: App, user: Principal, id: i64, fields: Fields, retry: bool) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    match scheduler::decide(&app, id, retry, &user.actor(), &instance_name()).await {
        Ok(Some(run)) => {
            Ok(Redirect::to(&format!("/admin/jobs/{}?run={}", urlencode(&run.job), run.id)).into_response())
        }
        Ok(None) => Ok(Redirect::to("/admin/jobs?done=run-discarded").into_response()),
        Err(e) => Err(PageError::bad_request(format!("{e:#}")).for_user(&user)),
    }
}

async fn retry(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    decide(app, user, id, fields, true).await
}

async fn discard(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    decide(app, user, id, fields, false).await
}
