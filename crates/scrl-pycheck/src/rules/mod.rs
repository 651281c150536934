//! The rules: one file per Bandit test that can report MEDIUM or HIGH, named by its id and Bandit's
//! test name, plus the tables that tell the checker which node kinds each rule inspects.

use ruff_python_ast::StmtFunctionDef;

use crate::checker::{CallContext, Issue, StrContext};
use crate::semantic::Imports;

pub(crate) mod blacklist;
mod shell;

mod b102_exec_used;
mod b103_set_bad_file_permissions;
mod b104_hardcoded_bind_all_interfaces;
mod b108_hardcoded_tmp_directory;
mod b113_request_without_timeout;
mod b201_flask_debug_true;
mod b202_tarfile_unsafe_members;
mod b301_pickle;
mod b302_marshal;
mod b303_md5;
mod b304_ciphers;
mod b305_cipher_modes;
mod b306_mktemp_q;
mod b307_eval;
mod b308_mark_safe;
mod b310_urllib_urlopen;
mod b312_telnetlib;
mod b313_xml_bad_celementtree;
mod b314_xml_bad_elementtree;
mod b315_xml_bad_expatreader;
mod b316_xml_bad_expatbuilder;
mod b317_xml_bad_sax;
mod b318_xml_bad_minidom;
mod b319_xml_bad_pulldom;
mod b321_ftplib;
mod b323_unverified_context;
mod b324_hashlib_insecure_functions;
mod b401_import_telnetlib;
mod b402_import_ftplib;
mod b411_import_xmlrpclib;
mod b412_import_httpoxy;
mod b413_import_pycrypto;
mod b415_import_pyghmi;
mod b501_request_with_no_cert_validation;
mod b502_ssl_with_bad_version;
mod b503_ssl_with_bad_defaults;
mod b505_weak_cryptographic_key;
mod b506_yaml_load;
mod b507_ssh_no_host_key_verification;
mod b508_snmp_insecure_version;
mod b509_snmp_weak_cryptography;
mod b601_paramiko_calls;
mod b602_subprocess_popen_with_shell_equals_true;
mod b604_any_other_function_with_shell_equals_true;
mod b605_start_process_with_a_shell;
mod b608_hardcoded_sql_expressions;
mod b609_linux_commands_wildcard_injection;
mod b610_django_extra_used;
mod b611_django_rawsql_used;
mod b612_logging_config_insecure_listen;
mod b613_trojansource;
mod b614_pytorch_load;
mod b615_huggingface_unsafe_download;
mod b701_jinja2_autoescape_false;
mod b702_use_of_mako_templates;
mod b703_django_mark_safe;
mod b704_markupsafe_markup_xss;

/// A rule that inspects a node kind `C`.
pub(crate) struct Rule<C: ?Sized> {
    pub id: &'static str,
    pub name: &'static str,
    pub check: C,
}

pub(crate) type CallRule = Rule<fn(&CallContext) -> Option<Issue>>;
pub(crate) type StrRule = Rule<fn(&StrContext) -> Option<Issue>>;
pub(crate) type FunctionDefRule = Rule<fn(&StmtFunctionDef, &Imports) -> Option<Issue>>;
pub(crate) type FileRule = Rule<fn(&str) -> Option<Issue>>;

macro_rules! rule {
    ($id:literal, $name:literal, $module:ident) => {
        Rule {
            id: $id,
            name: $name,
            check: $module::check,
        }
    };
}

/// Rules run on every call (the blacklist is run separately, see [`blacklist`]).
pub(crate) const CALL_RULES: &[CallRule] = &[
    rule!("B102", "exec_used", b102_exec_used),
    rule!(
        "B103",
        "set_bad_file_permissions",
        b103_set_bad_file_permissions
    ),
    rule!(
        "B113",
        "request_without_timeout",
        b113_request_without_timeout
    ),
    rule!("B201", "flask_debug_true", b201_flask_debug_true),
    rule!(
        "B202",
        "tarfile_unsafe_members",
        b202_tarfile_unsafe_members
    ),
    rule!("B324", "hashlib", b324_hashlib_insecure_functions),
    rule!(
        "B501",
        "request_with_no_cert_validation",
        b501_request_with_no_cert_validation
    ),
    rule!("B502", "ssl_with_bad_version", b502_ssl_with_bad_version),
    rule!(
        "B505",
        "weak_cryptographic_key",
        b505_weak_cryptographic_key
    ),
    rule!("B506", "yaml_load", b506_yaml_load),
    rule!(
        "B507",
        "ssh_no_host_key_verification",
        b507_ssh_no_host_key_verification
    ),
    rule!(
        "B508",
        "snmp_insecure_version_check",
        b508_snmp_insecure_version
    ),
    rule!("B509", "snmp_crypto_check", b509_snmp_weak_cryptography),
    rule!("B601", "paramiko_calls", b601_paramiko_calls),
    rule!(
        "B602",
        "subprocess_popen_with_shell_equals_true",
        b602_subprocess_popen_with_shell_equals_true
    ),
    rule!(
        "B604",
        "any_other_function_with_shell_equals_true",
        b604_any_other_function_with_shell_equals_true
    ),
    rule!(
        "B605",
        "start_process_with_a_shell",
        b605_start_process_with_a_shell
    ),
    rule!(
        "B609",
        "linux_commands_wildcard_injection",
        b609_linux_commands_wildcard_injection
    ),
    rule!("B610", "django_extra_used", b610_django_extra_used),
    rule!("B611", "django_rawsql_used", b611_django_rawsql_used),
    rule!(
        "B612",
        "logging_config_insecure_listen",
        b612_logging_config_insecure_listen
    ),
    rule!("B614", "pytorch_load", b614_pytorch_load),
    rule!(
        "B615",
        "huggingface_unsafe_download",
        b615_huggingface_unsafe_download
    ),
    rule!(
        "B701",
        "jinja2_autoescape_false",
        b701_jinja2_autoescape_false
    ),
    rule!("B702", "use_of_mako_templates", b702_use_of_mako_templates),
    rule!("B703", "django_mark_safe", b703_django_mark_safe),
    rule!("B704", "markupsafe_markup_xss", b704_markupsafe_markup_xss),
];

/// Rules run on every `str` constant that is not an expression statement.
pub(crate) const STR_RULES: &[StrRule] = &[
    rule!(
        "B104",
        "hardcoded_bind_all_interfaces",
        b104_hardcoded_bind_all_interfaces
    ),
    rule!(
        "B108",
        "hardcoded_tmp_directory",
        b108_hardcoded_tmp_directory
    ),
    rule!(
        "B608",
        "hardcoded_sql_expressions",
        b608_hardcoded_sql_expressions
    ),
];

/// Rules run on every (non-async) function definition.
pub(crate) const FUNCTION_DEF_RULES: &[FunctionDefRule] = &[rule!(
    "B503",
    "ssl_with_bad_defaults",
    b503_ssl_with_bad_defaults
)];

/// Rules run once on the whole source.
pub(crate) const FILE_RULES: &[FileRule] = &[rule!("B613", "trojansource", b613_trojansource)];

/// Every test id the native scanner implements, for documentation and the cross-check.
pub fn implemented_test_ids() -> Vec<&'static str> {
    let mut ids: Vec<&str> = CALL_RULES.iter().map(|r| r.id).collect();
    ids.extend(STR_RULES.iter().map(|r| r.id));
    ids.extend(FUNCTION_DEF_RULES.iter().map(|r| r.id));
    ids.extend(FILE_RULES.iter().map(|r| r.id));
    ids.extend(blacklist::reported_ids());
    ids.sort_unstable();
    ids
}
