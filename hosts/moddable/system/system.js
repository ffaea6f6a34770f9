/*
 * xsdot: platform queries for the Moddable host (see system.c).
 */
export function monotonic() @ "xs_xsdot_monotonic";
export function heapFree() @ "xs_xsdot_heap_free";
export function getenv(name) @ "xs_xsdot_getenv";
export function prepareProcess() @ "xs_xsdot_prepare_process";
export function listenProblem(port) @ "xs_xsdot_listen_problem";
export function directoryProblem(path) @ "xs_xsdot_directory_problem";
export function exitProcess(status) @ "xs_xsdot_exit_process";
