//! The `web` process: the app's own script, or waitress serving its WSGI module, on `$PORT`
//! (default 8080). An app with a `Procfile` gets none from here: the procfile buildpack
//! declares its processes.

use kiln_sdk::Process;

use crate::detect::AppFiles;

/// The process to declare, or why there is none.
pub fn web(files: &AppFiles, has_waitress: bool) -> Result<Process, String> {
    if files.procfile {
        return Err("the Procfile declares the processes".into());
    }
    if let Some(script) = files.entry_script {
        return Ok(Process::new("web", vec!["python".into(), script.into()]).default_process(true));
    }
    match (files.wsgi_module, has_waitress) {
        (Some(module), true) => {
            Ok(Process::shell("web", &format!("exec waitress-serve --port=${{PORT:-8080}} {module}:app")).default_process(true))
        }
        (Some(module), false) => Err(format!(
            "{module} looks like a WSGI app but waitress is not in requirements.txt; add it (waitress==VERSION --hash=sha256:...) or an app.py that serves on $PORT"
        )),
        (None, _) => Err("no app.py, main.py, app/ or wsgi.py: add one, or a Procfile with a web line".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_process_by_what_the_app_has() {
        let script = AppFiles { entry_script: Some("app.py"), wsgi_module: Some("wsgi"), ..AppFiles::default() };
        let p = web(&script, true).unwrap();
        assert_eq!(p.command, ["python", "app.py"]);
        assert!(p.default);
        let wsgi = AppFiles { wsgi_module: Some("wsgi"), ..AppFiles::default() };
        assert_eq!(web(&wsgi, true).unwrap().command[2], "exec waitress-serve --port=${PORT:-8080} wsgi:app");
        assert!(web(&wsgi, false).unwrap_err().contains("waitress is not in requirements.txt"));
        assert!(web(&AppFiles { procfile: true, ..script }, true).unwrap_err().contains("Procfile"));
        assert!(web(&AppFiles::default(), true).is_err());
    }
}
