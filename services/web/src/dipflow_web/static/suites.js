// The custody suite picker shared by the custody and inspector pages.
import { api, describe, h } from "./common.js";

/** Fill the #suite select with the suites custody knows; the chosen one (from ?suite=) or the first. */
export async function chooseSuite(onProblem) {
  const select = document.getElementById("suite");
  try {
    const suites = await api("custody", "v1/suites");
    const chosen = select.dataset.chosen;
    select.replaceChildren(...suites.map((s) => h("option", { value: s.code }, `${s.name} (${s.code})`)));
    const suite = chosen && suites.some((s) => s.code === chosen) ? chosen : (suites[0] && suites[0].code);
    select.value = suite || "";
    return suite || null;
  } catch (error) {
    onProblem(describe(error, "the custody suites"));
    return null;
  }
}
