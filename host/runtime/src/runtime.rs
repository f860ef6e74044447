//! The sandbox: wasmtime component model, a fresh `Store` per call from a pre-instantiated
//! component, a memory cap, an epoch deadline, frozen clocks and no files, network or environment.

use super::adapter::Adapt;
use super::lookups::Lookups;
use super::model;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use wasmtime::component::{
    Component, ComponentExportIndex, Func, HasSelf, InstancePre, Linker, ResourceTable, TypedFunc,
};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy, ResourceLimiter,
    Store, Trap,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Interface 1.0.0 as released (`plugin-sdk/wit/v1.0`): components built against it keep working.
pub(super) mod v1_0 {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit/v1.0",
        world: "plugin",
    });
}

/// Interface 1.1.0, the newest 1.x (`plugin-sdk/wit/v1`).
pub(super) mod v1_1 {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit/v1",
        world: "plugin",
    });
}

/// The API version this host implements: the newest interface version it serves. A component
/// built against any 1.x up to this one runs (`Api`); a newer minor or another major is refused.
pub const HOST_API: semver::Version = semver::Version::new(1, 1, 0);

/// The interface version a component was built against, read from the names of its imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    V1_0,
    V1_1,
}

impl Api {
    pub fn version(self) -> semver::Version {
        match self {
            Api::V1_0 => semver::Version::new(1, 0, 0),
            Api::V1_1 => semver::Version::new(1, 1, 0),
        }
    }

    /// The version named by a component's imports of `ipra:plugin/…@x.y.z` (a component that uses
    /// none of the interface's types is taken as the newest).
    fn of(component: &Component, engine: &Engine) -> Result<Api> {
        let named = component
            .component_type()
            .imports(engine)
            .filter_map(|(name, _)| name.strip_prefix("ipra:plugin/").map(str::to_string))
            .filter_map(|name| name.split_once('@').map(|(_, v)| v.to_string()))
            .filter_map(|v| semver::Version::parse(&v).ok())
            .max();
        let Some(version) = named else {
            return Ok(Api::V1_1);
        };
        match (version.major, version.minor) {
            (1, 0) => Ok(Api::V1_0),
            (1, 1) => Ok(Api::V1_1),
            (1, _) => anyhow::bail!(
                "компонент собран для интерфейса {version}, а сервер предоставляет {HOST_API}: обновите сервер или возьмите сборку плагина для {}.{}",
                HOST_API.major,
                HOST_API.minor
            ),
            _ => anyhow::bail!(
                "компонент собран для интерфейса {version}, а сервер предоставляет интерфейс {}.x (до {HOST_API}): нужна сборка плагина для версии {}",
                HOST_API.major,
                HOST_API.major
            ),
        }
    }
}

/// Epoch ticks are this long; a call's time limit is a whole number of ticks.
const TICK: Duration = Duration::from_millis(10);

/// Calls running at once in one sandbox; more wait for a slot (see [`Sandbox::call`]). Each call
/// takes one slot of the pooling allocator, whose size follows from this.
const MAX_CONCURRENT_CALLS: u32 = 64;
/// Pages of a linear memory kept mapped between calls: a slot is reset by rewriting the pages the
/// last call dirtied rather than unmapping them, so the next call takes no page faults.
const MEMORY_KEEP_RESIDENT: usize = 16 << 20;

/// Per-call resource limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub memory_bytes: usize,
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            time: Duration::from_secs(2),
        }
    }
}

/// What the installation allows its plugins: the limits of a plugin whose manifest asks for
/// none, and the most a manifest's `[limits]` may ask for.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub default: Limits,
    pub max: Limits,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            default: Limits::default(),
            max: Limits {
                memory_bytes: 512 << 20,
                time: Duration::from_secs(60),
            },
        }
    }
}

impl Bounds {
    /// The defaults with what the installation's configuration sets (`[plugins]` of ipra.toml:
    /// `memory_mib`, `max_memory_mib`, `time_ms`, `max_time_ms`); a default above its maximum is
    /// lowered to it. Zero is refused naming the key.
    pub fn from_settings(
        memory_mib: Option<u64>,
        max_memory_mib: Option<u64>,
        time_ms: Option<u64>,
        max_time_ms: Option<u64>,
    ) -> Result<Bounds> {
        let mut bounds = Bounds::default();
        for (key, value) in [
            ("memory_mib", memory_mib),
            ("max_memory_mib", max_memory_mib),
            ("time_ms", time_ms),
            ("max_time_ms", max_time_ms),
        ] {
            if value == Some(0) {
                anyhow::bail!("plugins.{key} = 0: ожидается целое положительное число");
            }
        }
        if let Some(mib) = max_memory_mib {
            bounds.max.memory_bytes = (mib as usize) << 20;
        }
        if let Some(ms) = max_time_ms {
            bounds.max.time = Duration::from_millis(ms);
        }
        if let Some(mib) = memory_mib {
            bounds.default.memory_bytes = (mib as usize) << 20;
        }
        if let Some(ms) = time_ms {
            bounds.default.time = Duration::from_millis(ms);
        }
        bounds.default = bounds.default.within(bounds.max);
        Ok(bounds)
    }

    /// The limits of a plugin's calls: what its manifest asks for, up to the maxima; the
    /// defaults where it asks for nothing.
    pub fn grant(&self, asked: &crate::manifest::PluginLimits) -> Limits {
        Limits {
            memory_bytes: asked
                .memory_mib
                .map_or(self.default.memory_bytes, |mib| (mib as usize) << 20),
            time: asked.time_ms.map_or(self.default.time, Duration::from_millis),
        }
        .within(self.max)
    }
}

impl Limits {
    fn within(self, max: Limits) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes.min(max.memory_bytes),
            time: self.time.min(max.time),
        }
    }
}

/// Why a plugin call failed outside the plugin's own typed errors.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("плагин «{plugin}» превысил лимит времени ({limit_ms} мс) и был остановлен")]
    Timeout { plugin: String, limit_ms: u128 },
    #[error("плагин «{plugin}» превысил лимит памяти ({limit_mib} МиБ) и был остановлен")]
    MemoryLimit { plugin: String, limit_mib: usize },
    #[error("плагин «{plugin}» аварийно завершился: {detail}")]
    Trap { plugin: String, detail: String },
    #[error("плагин «{plugin}» не запустился: {detail}")]
    Instantiate { plugin: String, detail: String },
}

impl CallError {
    /// A stable machine code, as in plugin errors.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "plugin-timeout",
            CallError::MemoryLimit { .. } => "plugin-memory-limit",
            CallError::Trap { .. } => "plugin-trap",
            CallError::Instantiate { .. } => "plugin-instantiate",
        }
    }
}

/// What a call may see besides its input: who it is, its configuration and the look-ups.
#[derive(Clone)]
pub struct CallContext {
    pub plugin_id: Arc<str>,
    pub config: Arc<BTreeMap<String, String>>,
    /// Look-ups the manifest declared (`organisation`, `route`, `reference`); nothing else answers.
    pub allowed_lookups: Arc<[String]>,
    pub lookups: Arc<dyn Lookups>,
    /// The plugin's granted limits (see [`Bounds::grant`]).
    pub limits: Limits,
}

/// The state of one store: it lives for one call only.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory_limit: usize,
    memory_denied: Arc<AtomicBool>,
    ctx: CallContext,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for CallState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_limit;
        if !allowed {
            self.memory_denied.store(true, Ordering::Relaxed);
        }
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl CallState {
    fn may(&self, lookup: &str) -> bool {
        let allowed = self.ctx.allowed_lookups.iter().any(|l| l == lookup);
        if !allowed {
            tracing::warn!(plugin = %self.ctx.plugin_id, lookup, "look-up not declared in the manifest; refused");
        }
        allowed
    }
}

impl CallState {
    fn log(&self, level: model::LogLevel, message: &str) {
        let plugin = &*self.ctx.plugin_id;
        match level {
            model::LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            model::LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            model::LogLevel::Info => tracing::info!(plugin, "{message}"),
            model::LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            model::LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn organisation(&self, ogrn: &str) -> Option<model::Organisation> {
        self.may("organisation")
            .then(|| self.ctx.lookups.organisation(ogrn))
            .flatten()
    }

    fn route(&self, section: &str, territory_code: &str) -> Option<model::Organisation> {
        self.may("route")
            .then(|| self.ctx.lookups.route(section, territory_code))
            .flatten()
    }

    fn reference_list(&self, list_id: &str) -> Vec<model::ReferenceEntry> {
        if self.may("reference") {
            self.ctx.lookups.reference_list(list_id)
        } else {
            Vec::new()
        }
    }
}

/// The host functions of one interface version, answered by the version-free ones above.
macro_rules! host_functions {
    ($v:ident) => {
        impl $v::ipra::plugin::types::Host for CallState {}

        impl $v::ipra::plugin::host::Host for CallState {
            fn log(&mut self, level: $v::ipra::plugin::types::LogLevel, message: String) {
                CallState::log(self, level.adapt(), &message)
            }

            fn config(&mut self, key: String) -> Option<String> {
                self.ctx.config.get(&key).cloned()
            }

            fn organisation_by_ogrn(&mut self, ogrn: String) -> Option<$v::ipra::plugin::host::Organisation> {
                self.organisation(&ogrn).adapt()
            }

            fn route(
                &mut self,
                section: String,
                territory_code: String,
            ) -> Option<$v::ipra::plugin::host::Organisation> {
                CallState::route(self, &section, &territory_code).adapt()
            }

            fn reference_list(&mut self, list_id: String) -> Vec<$v::ipra::plugin::types::ReferenceEntry> {
                CallState::reference_list(self, &list_id).adapt()
            }
        }
    };
}
host_functions!(v1_0);
host_functions!(v1_1);

/// Plugins see the Unix epoch, always: they have no clock (today's date comes in their input).
struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The engine, the linker and the compiled-component cache shared by every plugin.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<CallState>,
    cache_dir: Option<PathBuf>,
    engine_key: String,
    slots: CallSlots,
}

/// A counting semaphore over the pooling allocator's slots: a call waits for a free slot rather
/// than failing to instantiate when many run at once.
struct CallSlots {
    free: Mutex<u32>,
    freed: Condvar,
}

impl CallSlots {
    fn acquire(&self) -> CallSlot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        CallSlot(self)
    }
}

struct CallSlot<'a>(&'a CallSlots);

impl Drop for CallSlot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

impl Sandbox {
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Arc<Sandbox>> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.max_wasm_stack(1 << 20);
        // A fresh instance per call is the sandbox rule; the pooling allocator makes it cheap: the
        // slots (memory, tables, instance data) are mapped once and reused, so a call costs no
        // mmap/munmap and, with the dirty pages kept resident, no page faults either.
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(MAX_CONCURRENT_CALLS)
            .total_core_instances(MAX_CONCURRENT_CALLS * 16)
            .total_memories(MAX_CONCURRENT_CALLS * 2)
            .total_tables(MAX_CONCURRENT_CALLS * 4)
            .total_stacks(MAX_CONCURRENT_CALLS)
            .max_memories_per_module(1)
            .max_tables_per_module(2)
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .table_keep_resident(1 << 20)
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if std::env::var_os("IPRA_WASM_PERFMAP").is_some() {
            // For profiling: perf then names the functions of the plugins.
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).wasm_context("создание движка WebAssembly")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).wasm_context("связывание WASI")?;
        // Every interface version the host serves, side by side: a component imports the one it
        // was built against.
        v1_0::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .wasm_context("связывание функций хоста (интерфейс 1.0)")?;
        v1_1::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .wasm_context("связывание функций хоста (интерфейс 1.1)")?;

        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());

        // One ticker for the whole process: each store's deadline counts its ticks.
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("ipra-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .context("запуск таймера песочницы")?;

        Ok(Arc::new(Sandbox {
            engine,
            linker,
            cache_dir,
            engine_key,
            slots: CallSlots {
                free: Mutex::new(MAX_CONCURRENT_CALLS),
                freed: Condvar::new(),
            },
        }))
    }

    /// Compiles (or loads from the cache) a component and links it once, ready to instantiate.
    pub fn prepare(&self, wasm: &[u8], sha256: &str) -> Result<Prepared> {
        let component = self.compile(wasm, sha256)?;
        let api = Api::of(&component, &self.engine)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .wasm_context("компонент требует импорты, которых хост не даёт")?;
        // Finds the four hooks (an error names a missing one); their types are checked on the
        // first instance, see `Prepared::hooks`.
        let indices = match api {
            Api::V1_0 => Indices::V1_0(
                v1_0::PluginIndices::new(&pre).wasm_context("компонент не реализует мир ipra:plugin/plugin@1.0")?,
            ),
            Api::V1_1 => Indices::V1_1(
                v1_1::PluginIndices::new(&pre).wasm_context("компонент не реализует мир ipra:plugin/plugin@1.1")?,
            ),
        };
        let index = |name: &str| {
            component
                .get_export_index(None, name)
                .with_context(|| format!("компонент не экспортирует функцию «{name}»"))
        };
        Ok(Prepared {
            describe: index("describe")?,
            import: index("import")?,
            execute: index("execute")?,
            export: index("export")?,
            pre,
            api,
            indices,
            checked: AtomicBool::new(false),
        })
    }

    fn compile(&self, wasm: &[u8], sha256: &str) -> Result<Component> {
        let cached = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}-{}.cwasm", self.engine_key)));
        if let Some(path) = cached.as_ref().filter(|p| p.is_file()) {
            // SAFETY: the cache lives only in the server's own data directory, written by this
            // code from a component whose hash is in the file name, for this exact engine.
            match unsafe { Component::deserialize_file(&self.engine, path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "compiled plugin cache unusable, recompiling: {e:#}")
                }
            }
        }
        let component = Component::new(&self.engine, wasm).wasm_context("компиляция компонента WebAssembly")?;
        if let Some(path) = cached {
            let write = || -> Result<()> {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
                std::fs::write(&tmp, component.serialize()?)?;
                std::fs::rename(&tmp, &path)?;
                Ok(())
            };
            if let Err(e) = write() {
                tracing::warn!(path = %path.display(), "could not cache the compiled plugin: {e:#}");
            }
        }
        Ok(component)
    }

    /// Runs `f` against a fresh instance in a fresh store with the limits of the call's plugin.
    pub fn call<R>(
        &self,
        pre: &Prepared,
        ctx: &CallContext,
        f: impl FnOnce(&Hooks, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let _slot = self.slots.acquire();
        let mut wasi = WasiCtxBuilder::new();
        wasi.wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .allow_ip_name_lookup(false);
        let memory_denied = Arc::new(AtomicBool::new(false));
        let state = CallState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            memory_limit: ctx.limits.memory_bytes,
            memory_denied: memory_denied.clone(),
            ctx: ctx.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state);
        let ticks = (ctx.limits.time.as_millis() / TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();

        let plugin_name = || ctx.plugin_id.to_string();
        let instance = pre.hooks(&mut store).map_err(|e| CallError::Instantiate {
            plugin: plugin_name(),
            detail: format!("{e:#}"),
        })?;
        f(&instance, &mut store).map_err(|error| {
            if memory_denied.load(Ordering::Relaxed) {
                CallError::MemoryLimit {
                    plugin: plugin_name(),
                    limit_mib: ctx.limits.memory_bytes >> 20,
                }
            } else if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
                CallError::Timeout {
                    plugin: plugin_name(),
                    limit_ms: ctx.limits.time.as_millis(),
                }
            } else {
                CallError::Trap {
                    plugin: plugin_name(),
                    detail: trap_summary(&error),
                }
            }
        })
    }
}

/// A component linked once, ready for a fresh instance per call.
pub struct Prepared {
    pre: InstancePre<CallState>,
    api: Api,
    indices: Indices,
    describe: ComponentExportIndex,
    import: ComponentExportIndex,
    execute: ComponentExportIndex,
    export: ComponentExportIndex,
    /// Whether an instance of this component has had its hooks' types checked against the world.
    checked: AtomicBool,
}

impl Prepared {
    /// A fresh instance in `store` and its hooks. The hooks' signatures are checked against the
    /// world once, on the first instance: every later instance is of the same component and so
    /// of the same types, and checking them again (walking every record of the interface) would
    /// cost a few microseconds on each call.
    fn hooks(&self, store: &mut Store<CallState>) -> wasmtime::Result<Hooks> {
        let instance = self.pre.instantiate(&mut *store)?;
        if !self.checked.load(Ordering::Acquire) {
            match &self.indices {
                Indices::V1_0(indices) => indices.load(&mut *store, &instance).map(|_| ())?,
                Indices::V1_1(indices) => indices.load(&mut *store, &instance).map(|_| ())?,
            }
            self.checked.store(true, Ordering::Release);
        }
        let mut func = |index: &ComponentExportIndex| {
            instance
                .get_func(&mut *store, index)
                .ok_or_else(|| wasmtime::Error::msg("экспорт компонента не является функцией"))
        };
        Ok(Hooks {
            api: self.api,
            describe: func(&self.describe)?,
            import: func(&self.import)?,
            execute: func(&self.execute)?,
            export: func(&self.export)?,
        })
    }
}

/// The hooks of a component, found by the world of its interface version.
enum Indices {
    V1_0(v1_0::PluginIndices),
    V1_1(v1_1::PluginIndices),
}

impl Prepared {
    /// The interface version the component was built against.
    pub fn api(&self) -> Api {
        self.api
    }
}

/// The hooks of one fresh instance, with the signatures of the world `ipra:plugin/plugin@1`.
pub struct Hooks {
    api: Api,
    describe: Func,
    import: Func,
    execute: Func,
    export: Func,
}

/// `describe` of interface version `$v`, its answer in the host's types.
macro_rules! describe {
    ($v:ident, $hooks:expr, $store:expr) => {{
        use $v::ipra::plugin::types as wit;
        // SAFETY: see `Hooks::typed`; the types are those of `describe` in the world of `$v`.
        let func = unsafe { Hooks::typed::<(), (wit::PluginInfo,)>($hooks.describe) };
        Ok(func.call($store, ())?.0.adapt())
    }};
}

/// A hook of interface version `$v` taking `$input` and answering `result<$output, plugin-error>`:
/// the input converted into that version's types, the answer back into the host's.
macro_rules! hook {
    ($v:ident, $func:expr, $store:expr, $input:expr, $in:ident, Vec<$out:ident>) => {
        hook!(@ $v, $func, $store, $input, $in, Vec<$v::ipra::plugin::types::$out>)
    };
    ($v:ident, $func:expr, $store:expr, $input:expr, $in:ident, $out:ident) => {
        hook!(@ $v, $func, $store, $input, $in, $v::ipra::plugin::types::$out)
    };
    (@ $v:ident, $func:expr, $store:expr, $input:expr, $in:ident, $out:ty) => {{
        use $v::ipra::plugin::types as wit;
        // SAFETY: see `Hooks::typed`; the types are those of the hook in the world of `$v`.
        let func = unsafe { Hooks::typed::<(&wit::$in,), (Result<$out, wit::PluginError>,)>($func) };
        let input: wit::$in = $input.adapt();
        Ok(func.call($store, (&input,))?.0.adapt())
    }};
}

/// [`hook!`] with the input moved in and back into `$input` (a `&mut`), whatever the call gives.
macro_rules! hook_keeping {
    ($v:ident, $func:expr, $store:expr, $input:expr, $in:ident, $out:ident) => {{
        use $v::ipra::plugin::types as wit;
        // SAFETY: see `Hooks::typed`; the types are those of the hook in the world of `$v`.
        let func = unsafe { Hooks::typed::<(&wit::$in,), (Result<wit::$out, wit::PluginError>,)>($func) };
        let lent: wit::$in = std::mem::replace($input, model::$in::placeholder()).adapt();
        let result = func.call($store, (&lent,));
        *$input = lent.adapt();
        Ok(result?.0.adapt())
    }};
}

impl Hooks {
    /// The hook `func` with the types `P` and `R`.
    ///
    /// SAFETY (of the callers): `func` comes from an instance of a `Prepared` component whose
    /// hooks were checked against exactly these types (`Prepared::hooks`).
    unsafe fn typed<P, R>(func: Func) -> TypedFunc<P, R>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
    {
        unsafe { TypedFunc::new_unchecked(func) }
    }

    pub fn call_describe(&self, store: &mut Store<CallState>) -> wasmtime::Result<model::PluginInfo> {
        match self.api {
            Api::V1_0 => describe!(v1_0, self, store),
            Api::V1_1 => describe!(v1_1, self, store),
        }
    }

    pub fn call_import(
        &self,
        store: &mut Store<CallState>,
        input: model::ImportInput,
    ) -> wasmtime::Result<Result<model::ImportOutput, model::PluginError>> {
        match self.api {
            Api::V1_0 => hook!(v1_0, self.import, store, input, ImportInput, ImportOutput),
            Api::V1_1 => hook!(v1_1, self.import, store, input, ImportInput, ImportOutput),
        }
    }

    /// `import` with an input the caller keeps: it is moved into the call and back, so one input
    /// serves several calls (each department sees the same IPRA) without a copy.
    pub fn call_import_keeping(
        &self,
        store: &mut Store<CallState>,
        input: &mut model::ImportInput,
    ) -> wasmtime::Result<Result<model::ImportOutput, model::PluginError>> {
        match self.api {
            Api::V1_0 => hook_keeping!(v1_0, self.import, store, input, ImportInput, ImportOutput),
            Api::V1_1 => hook_keeping!(v1_1, self.import, store, input, ImportInput, ImportOutput),
        }
    }

    pub fn call_execute(
        &self,
        store: &mut Store<CallState>,
        input: model::ExecuteInput,
    ) -> wasmtime::Result<Result<model::ExecuteOutput, model::PluginError>> {
        match self.api {
            Api::V1_0 => hook!(v1_0, self.execute, store, input, ExecuteInput, ExecuteOutput),
            Api::V1_1 => hook!(v1_1, self.execute, store, input, ExecuteInput, ExecuteOutput),
        }
    }

    pub fn call_export(
        &self,
        store: &mut Store<CallState>,
        input: model::ExportInput,
    ) -> wasmtime::Result<Result<Vec<model::Document>, model::PluginError>> {
        match self.api {
            Api::V1_0 => hook!(v1_0, self.export, store, input, ExportInput, Vec<Document>),
            Api::V1_1 => hook!(v1_1, self.export, store, input, ExportInput, Vec<Document>),
        }
    }
}

/// Wasmtime has its own error type; this adds context and turns it into `anyhow`.
trait WasmContext<T> {
    fn wasm_context(self, what: &str) -> Result<T>;
}

impl<T> WasmContext<T> for wasmtime::Result<T> {
    fn wasm_context(self, what: &str) -> Result<T> {
        self.map_err(|e| anyhow::anyhow!("{what}: {e:#}"))
    }
}

/// The first line of a trap: the reason, without the wasm backtrace.
fn trap_summary(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error}").lines().next().unwrap_or_default().to_string(),
    }
}
