//! What a buildpack returns: detect outcomes with build plans, and build results.

use crate::bindings::kiln::buildpack::types as wit;
use crate::context::Layer;

/// A build plan pairing: what the buildpack provides and requires.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    provides: Vec<String>,
    requires: Vec<(String, String)>,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Plan::default()
    }

    /// Provide a dependency by name.
    pub fn provides(mut self, name: &str) -> Self {
        self.provides.push(name.to_string());
        self
    }

    /// Require a dependency by name, with TOML metadata (may be empty).
    pub fn requires(mut self, name: &str, metadata_toml: &str) -> Self {
        self.requires.push((name.to_string(), metadata_toml.to_string()));
        self
    }

    fn into_parts(self) -> (Vec<wit::PlanProvide>, Vec<wit::PlanRequire>) {
        (
            self.provides.into_iter().map(|name| wit::PlanProvide { name }).collect(),
            self.requires.into_iter().map(|(name, metadata)| wit::PlanRequire { name, metadata }).collect(),
        )
    }
}

/// The outcome of detect.
#[derive(Debug, Clone)]
pub enum DetectResult {
    /// Passes, with a primary plan and `or` alternatives.
    Pass(Plan, Vec<Plan>),
    /// Does not apply, with a reason.
    Fail(String),
}

impl DetectResult {
    /// Pass with an empty plan.
    pub fn pass() -> Self {
        DetectResult::Pass(Plan::new(), Vec::new())
    }

    /// Pass with a plan.
    pub fn pass_with(plan: Plan) -> Self {
        DetectResult::Pass(plan, Vec::new())
    }

    /// Pass with a plan and alternatives tried in order.
    pub fn pass_with_alternatives(plan: Plan, alternatives: Vec<Plan>) -> Self {
        DetectResult::Pass(plan, alternatives)
    }

    /// Fail with a reason.
    pub fn fail(reason: impl Into<String>) -> Self {
        DetectResult::Fail(reason.into())
    }

    pub(crate) fn into_wit(self) -> wit::DetectResult {
        match self {
            DetectResult::Fail(reason) => wit::DetectResult::Fail(reason),
            DetectResult::Pass(plan, alternatives) => {
                let (provides, requires) = plan.into_parts();
                let alternatives = alternatives
                    .into_iter()
                    .map(|p| {
                        let (provides, requires) = p.into_parts();
                        wit::PlanAlternative { provides, requires }
                    })
                    .collect();
                wit::DetectResult::Pass(wit::BuildPlan { provides, requires, alternatives })
            }
        }
    }
}

/// A process type the image can run.
#[derive(Debug, Clone)]
pub struct Process {
    /// The process type, e.g. `web`.
    pub process_type: String,
    /// Executable and fixed arguments.
    pub command: Vec<String>,
    /// Default arguments, replaced by user arguments.
    pub args: Vec<String>,
    /// Whether this is the default process.
    pub default: bool,
    /// Working directory (default: the app dir).
    pub working_dir: Option<String>,
}

impl Process {
    /// A process running `command` (executable first).
    pub fn new(process_type: &str, command: Vec<String>) -> Self {
        Process { process_type: process_type.to_string(), command, args: Vec::new(), default: false, working_dir: None }
    }

    /// A process running a shell command line with `/bin/sh -c`.
    pub fn shell(process_type: &str, line: &str) -> Self {
        Process::new(process_type, vec!["/bin/sh".into(), "-c".into(), line.to_string()])
    }

    /// Make it the default process.
    pub fn default_process(mut self, default: bool) -> Self {
        self.default = default;
        self
    }
}

/// The outcome of build.
#[derive(Debug, Clone, Default)]
pub struct BuildResult {
    layers: Vec<Layer>,
    processes: Vec<Process>,
    labels: Vec<(String, String)>,
    unmet: Vec<String>,
}

impl BuildResult {
    /// An empty result.
    pub fn new() -> Self {
        BuildResult::default()
    }

    /// Keep a layer.
    pub fn layer(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }

    /// Add a process type.
    pub fn process(mut self, process: Process) -> Self {
        self.processes.push(process);
        self
    }

    /// Add an image label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }

    /// Report a plan entry as unmet, so the next provider gets it.
    pub fn unmet(mut self, name: &str) -> Self {
        self.unmet.push(name.to_string());
        self
    }

    pub(crate) fn into_wit(self) -> wit::BuildResult {
        wit::BuildResult {
            layers: self.layers.into_iter().map(Layer::into_wit).collect(),
            processes: self
                .processes
                .into_iter()
                .map(|p| wit::Process {
                    process_type: p.process_type,
                    command: p.command,
                    args: p.args,
                    is_default: p.default,
                    working_dir: p.working_dir,
                })
                .collect(),
            labels: self.labels.into_iter().map(|(key, value)| wit::Label { key, value }).collect(),
            unmet: self.unmet,
        }
    }
}
