// The policy pack: `pulumi preview --policy-pack policy` runs it against any stack.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("dockyard", { policies });
