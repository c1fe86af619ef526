// The explorer in English or Chinese. The ontology's words (classes, properties, codes) come from
// its own labels (codes.js, generated from tracegraph.ttl); the page's own words are in UI below,
// the one place they are translated. The choice is kept in localStorage; the first visit follows
// the browser's language.
import { classLabel, propertyLabel, label } from "./codes.js";

const KEY = "tracegraph.lang";

// English text as written in the page → Chinese
const UI = {
  "My work": "我的工作", "Genealogy": "追溯", "Recall": "召回", "Deviation": "偏差", "SPC": "统计过程控制",
  "Sign in": "登录", "Sign out": "退出", "User": "用户名", "Password": "密码",
  "Search": "查询", "Upstream": "上游", "Downstream": "下游", "Fit": "适应窗口",
  "Nodes in view": "视图中的节点", "class": "类别", "key": "编号", "depth": "层级", "status": "状态",
  "Select a node to see its properties, as-built context, audit history and signatures.":
    "选择一个节点，查看其属性、实际生产记录、审计追踪和电子签名。",
  "lot, serial, supplier lot, equipment tag or scanned GS1 / UDI barcode":
    "批号、序列号、供应商批号、设备位号或扫描的 GS1 / UDI 条码",
  "Recall workbench": "召回工作台",
  "Seeds (one identifier per line: lots, serials, supplier lots, barcodes)":
    "召回起点（每行一个标识：批号、序列号、供应商批号、条码）",
  "Trace recall": "追溯召回范围", "Download CSV": "下载 CSV", "Download JSON": "下载 JSON",
  "Full export (zip)": "完整导出（zip）", "Affected customers": "受影响的客户",
  "customer": "客户", "name": "名称", "country": "国家", "address": "地址", "shipments": "发货",
  "first shipped": "首次发货", "last shipped": "最后发货",
  "deviation number, e.g. DEV-2026-0001": "偏差编号，例如 DEV-2026-0001", "Open": "打开",
  "parameter spec, e.g. ASSY-20/UV-DOSE": "参数规格，例如 ASSY-20/UV-DOSE", "last": "最近",
  "Chart": "绘图", "on hold": "暂扣", "deviation open": "偏差未关闭", "released": "已放行",
  "recalled": "已召回", "Properties": "属性",
  // issue 17 item 5 / issue 15 item 7
  "Equipment": "设备", "parameter spec": "参数规格", "last executions": "最近执行次数",
  "KPIs": "质量指标",  // issue 15 item 3
  "What-if": "假设召回",  // issue 18 item 3
  // issue 18 item 1
  "Documents": "文件",
  "Suppliers": "供应商",  // issue 18 item 2
  "Events": "集成事件",  // issue 18 item 6
  // issue 15 item 5: large traces (trace_group.js, trace_table.js)
  "group": "批次组", "Traceability report": "追溯报告", "item": "项目", "quantity": "数量",
  "count": "数量（件）", "batch": "批次",
};

export let lang = localStorage.getItem(KEY) || (navigator.language?.toLowerCase().startsWith("zh") ? "zh" : "en");

export function t(text) {
  return lang === "zh" ? UI[text] || text : text;
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
export const cls = (name) => cap(classLabel(name, lang));
export const prop = (name) => propertyLabel(name, lang);
export const code = (property, value) => label(property, value, lang);

// every element marked data-i18n shows its English text (kept in data-en) in the language
export function translate(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const e of root.querySelectorAll("[data-i18n]")) {
    if (e.dataset.en === undefined) e.dataset.en = e.textContent;
    e.textContent = t(e.dataset.en);
  }
  for (const e of root.querySelectorAll("[data-i18n-placeholder]")) {
    if (e.dataset.enPlaceholder === undefined) e.dataset.enPlaceholder = e.placeholder;
    e.placeholder = t(e.dataset.enPlaceholder);
  }
  const b = document.getElementById("lang");
  if (b) b.textContent = lang === "zh" ? "English" : "中文";
}

export function toggle() {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem(KEY, lang);
  translate();
  window.dispatchEvent(new CustomEvent("tracegraph:language"));
}
