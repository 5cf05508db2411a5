// A front-end's main workflows against the client generated from emplan's merged OpenAPI document
// (build/emplan-api.ts, made by openapi-typescript). Only type-checked (tsc --noEmit): it proves the
// generated types carry what a front-end needs, with no hand fixes to the document.
import createClient from "openapi-fetch";
import type { components, paths } from "../build/emplan-api";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];

export function emplanClient(baseUrl: string, accessToken: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${accessToken}` } });
}
type Client = ReturnType<typeof emplanClient>;

/** Sign in with the password grant (form-encoded, as OAuth2 wants it). */
export async function signIn(baseUrl: string, username: string, password: string): Promise<string> {
  const client = createClient<paths>({ baseUrl });
  const { data, error } = await client.POST("/api/v1/auth/token", {
    body: { grant_type: "password", username, password },
    bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
  });
  if (error) throw new Error(describe(error));
  return data.access_token;
}

/** Every plan of a region, page after page (cursor pagination). */
export async function listPlans(client: Client, regionCode: string): Promise<Schemas["PlanSummary"][]> {
  const plans: Schemas["PlanSummary"][] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await client.GET("/api/v1/plans", {
      params: { query: { region_code: regionCode, status: "published", limit: 100, cursor } },
    });
    if (error) throw new Error(describe(error));
    plans.push(...data.items);
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return plans;
}

/** Import a plan document (multipart upload); the draft's warnings are shown to the person. */
export async function importDocument(client: Client, file: Blob, fileName: string): Promise<string | null> {
  const { data, error, response } = await client.POST("/api/v1/plans/imports", {
    params: { query: { dry_run: false } },
    body: { file: fileName },
    bodySerializer: () => {
      const form = new FormData();
      form.append("file", file, fileName);
      return form;
    },
  });
  if (error) {
    // 413: too large; 422: not a plan document. `errors` name the line at fault.
    const lines = (error.errors ?? []).map((item: Schemas["ProblemItem"]) => item.line);
    throw new Error(`${response.status} ${error.code}: ${error.detail} ${lines.join(",")}`);
  }
  const status: Schemas["PlanStatus"] | null | undefined = data.status;
  for (const warning of data.warnings) console.warn(warning.code, warning.line, warning.detail);
  return status === "draft" ? (data.plan_id ?? null) : null;
}

/** A target's status: met / on track / lagging / seriously lagging / no data. */
export async function targetStatus(client: Client, targetId: string): Promise<string> {
  const { data, error } = await client.GET("/api/v1/indicators/targets/{target_id}/progress", {
    params: { path: { target_id: targetId } },
  });
  if (error) throw new Error(describe(error));
  const labels: Record<Schemas["TargetStatusValue"], string> = {
    met: "已完成",
    on_track: "符合序时进度",
    lagging: "滞后",
    seriously_lagging: "严重滞后",
    no_data: "无数据",
  };
  return `${data.target.name}: ${labels[data.status]}`;
}

/** Report a task's progress for a period; the answer carries the task's new status. */
export async function reportProgress(
  client: Client,
  taskId: string,
  percent: number,
  narrative: string,
): Promise<Schemas["TaskStatus"]> {
  const report: Schemas["ReportCreate"] = { period: "2026-Q4", percent, narrative, milestone: null };
  const { data, error } = await client.POST("/api/v1/tasks/{task_id}/reports", {
    params: { path: { task_id: taskId } },
    body: report,
  });
  if (error) throw new Error(describe(error));
  return data.status;
}

/** The approved data values of a data element (统计数据), e.g. for a chart. */
export async function approvedValues(client: Client, elementCode: string): Promise<Schemas["DataValueRead"][]> {
  const { data, error } = await client.GET("/api/v1/indicators/values", {
    params: { query: { element_code: elementCode, state: "approved" } },
  });
  if (error) throw new Error(describe(error));
  return data.items;
}

function describe(problem: Problem): string {
  return `${problem.status} ${problem.code}: ${problem.detail}`;
}
